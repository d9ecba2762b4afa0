-- Each job attempt's log: the runner's lines about the job, the server's NOTICEs and WARNINGs
-- from the job's SQL, and its progress (NightShiftCore.JobLogLine). Written by the runner that
-- holds the attempt (its heartbeat, and once more when the attempt ends); a line written twice is
-- the same (job_run_id, attempt, seq) and kept once. Kept as long as the job run: the history
-- purge deletes the job run, and its log with it.
CREATE TABLE nightshift.job_log (
    job_run_id  bigint      NOT NULL REFERENCES nightshift.job_runs ON DELETE CASCADE,
    attempt     int         NOT NULL CHECK (attempt >= 1),
    seq         int         NOT NULL CHECK (seq >= 1),
    at          timestamptz NOT NULL,
    level       text        NOT NULL CHECK (level IN ('debug', 'info', 'notice', 'warning', 'error')),
    source      text        NOT NULL CHECK (source IN ('runner', 'server', 'progress')),
    message     text        NOT NULL,
    PRIMARY KEY (job_run_id, attempt, seq)
);
