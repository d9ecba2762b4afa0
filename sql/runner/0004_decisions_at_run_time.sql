-- Windows, priorities and limits enforced while running (the decision model at run time).
--
-- A job run carries what the decision model needs about it (copied from its job file when the
-- occurrence is created): its locks, whether it can pause at a checkpoint, whether it writes the
-- exports volume, its expected duration and when it became due. The dispatcher writes why a job
-- waits, asks running jobs to pause (any runner may ask; the lease holder pauses at its next
-- checkpoint), and records late starts and window violations.

ALTER TABLE nightshift.job_runs DROP CONSTRAINT job_runs_state_check;
ALTER TABLE nightshift.job_runs ADD CONSTRAINT job_runs_state_check
    CHECK (state IN ('pending', 'running', 'paused', 'retrying', 'succeeded', 'failed', 'skipped', 'timed_out'));

ALTER TABLE nightshift.job_runs ADD COLUMN locks text[] NOT NULL DEFAULT '{}';
ALTER TABLE nightshift.job_runs ADD COLUMN checkpointed boolean NOT NULL DEFAULT false;
UPDATE nightshift.job_runs SET checkpointed = (kind = 'calculation');
ALTER TABLE nightshift.job_runs ADD COLUMN writes_exports boolean NOT NULL DEFAULT false;
UPDATE nightshift.job_runs SET writes_exports = (kind = 'export');
-- Expected seconds (history, else estimate) when the occurrence was created; the model subtracts
-- what a paused job has done.
ALTER TABLE nightshift.job_runs ADD COLUMN expected_seconds int NOT NULL DEFAULT 600;
-- When the job became due (runner clock): its batch's scheduled instant. Aging and ties.
ALTER TABLE nightshift.job_runs ADD COLUMN due_at timestamptz;
UPDATE nightshift.job_runs j SET due_at = b.scheduled_for FROM nightshift.batch_runs b WHERE b.id = j.batch_run_id;
-- A pause asked for (the reason) and why: window, preempted, load. Cleared when the job pauses.
ALTER TABLE nightshift.job_runs ADD COLUMN pause_requested text;
ALTER TABLE nightshift.job_runs ADD COLUMN pause_cause text CHECK (pause_cause IN ('window', 'preempted', 'load'));
ALTER TABLE nightshift.job_runs ADD COLUMN pauses int NOT NULL DEFAULT 0;
-- Seconds of work done by the attempts so far (paused time excluded): history and remaining time.
ALTER TABLE nightshift.job_runs ADD COLUMN run_seconds float8 NOT NULL DEFAULT 0;
-- Why a ready job does not start, and until when (runner clock; NULL: until something changes).
ALTER TABLE nightshift.job_runs ADD COLUMN wait_reason text;
ALTER TABLE nightshift.job_runs ADD COLUMN wait_until timestamptz;
-- A P1/P2 job that started past its start deadline: by how many seconds.
ALTER TABLE nightshift.job_runs ADD COLUMN late_start_seconds int;

DROP INDEX nightshift.job_runs_claimable;
CREATE INDEX job_runs_claimable ON nightshift.job_runs (priority, id) WHERE state IN ('pending', 'retrying', 'paused');

-- The database connections each runner may open (limits.max_connections); registration keeps the
-- sum over live runners within limits.total_connections.
ALTER TABLE nightshift.runners ADD COLUMN connections int NOT NULL DEFAULT 0;
