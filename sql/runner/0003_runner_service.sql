-- The runner as a service: batch occurrences unique per (batch, scheduled instant, run number),
-- job runs claimed under leases, the runners themselves, and the scheduler's cursor.
--
-- Two clocks: "scheduled_for", "deadline", started/finished times, "not_before" and a transition's
-- "at" come from the runner's clock (simulated under --at/--speed). Leases and heartbeats are
-- liveness in real time and use the database server's clock, which every runner shares.

-- Run 1 of an occurrence is created by the scheduler or `run --once`; an operator's rerun of a
-- finished occurrence is run 2, 3, … Earlier versions could run the same instant twice: those
-- rows are numbered in the order they ran.
ALTER TABLE nightshift.batch_runs ADD COLUMN run_number int;
UPDATE nightshift.batch_runs b SET run_number = r.n
FROM (SELECT id, row_number() OVER (PARTITION BY batch, scheduled_for ORDER BY id) AS n FROM nightshift.batch_runs) r
WHERE r.id = b.id;
ALTER TABLE nightshift.batch_runs ALTER COLUMN run_number SET NOT NULL, ALTER COLUMN run_number SET DEFAULT 1;
CREATE UNIQUE INDEX batch_runs_occurrence ON nightshift.batch_runs (batch, scheduled_for, run_number);
-- The end of the batch's window (scheduled_for + window_hours): past it, work stops.
ALTER TABLE nightshift.batch_runs ADD COLUMN deadline timestamptz;
-- Who closed it, and when its summary was written (NULL while one is due).
ALTER TABLE nightshift.batch_runs ADD COLUMN closed_by text;
ALTER TABLE nightshift.batch_runs ADD COLUMN summary_at timestamptz;
UPDATE nightshift.batch_runs SET summary_at = finished_at WHERE state <> 'running';
ALTER TABLE nightshift.batch_runs ADD COLUMN warnings text[] NOT NULL DEFAULT '{}';
CREATE INDEX batch_runs_open ON nightshift.batch_runs (id) WHERE state = 'running' OR summary_at IS NULL;

ALTER TABLE nightshift.job_runs DROP CONSTRAINT job_runs_state_check;
ALTER TABLE nightshift.job_runs ADD CONSTRAINT job_runs_state_check
    CHECK (state IN ('pending', 'running', 'retrying', 'succeeded', 'failed', 'skipped', 'timed_out'));
-- What the job needs, copied from its job file when the occurrence is created (overrides applied).
ALTER TABLE nightshift.job_runs ADD COLUMN depends_on text[] NOT NULL DEFAULT '{}';
ALTER TABLE nightshift.job_runs ADD COLUMN retries int NOT NULL DEFAULT 3;
ALTER TABLE nightshift.job_runs ADD COLUMN timeout_seconds int;
-- An operator's skip: dependents treat the job as done.
ALTER TABLE nightshift.job_runs ADD COLUMN skipped_by_override boolean NOT NULL DEFAULT false;
-- Failures so far (transient errors and runners that died holding it): the retry budget.
ALTER TABLE nightshift.job_runs ADD COLUMN failures int NOT NULL DEFAULT 0;
-- A retry's back-off: not claimable before this instant (runner clock).
ALTER TABLE nightshift.job_runs ADD COLUMN not_before timestamptz;
-- The lease: only lease_owner may write the job's progress, and only until lease_expires_at.
ALTER TABLE nightshift.job_runs ADD COLUMN lease_owner text;
ALTER TABLE nightshift.job_runs ADD COLUMN lease_expires_at timestamptz;
ALTER TABLE nightshift.job_runs ADD COLUMN attempt_started_at timestamptz;
-- Progress for `nightshift status` (written at checkpoints and heartbeats).
ALTER TABLE nightshift.job_runs ADD COLUMN progress_rows bigint;
ALTER TABLE nightshift.job_runs ADD COLUMN progress_at timestamptz;
ALTER TABLE nightshift.job_runs ADD COLUMN note text;
CREATE INDEX job_runs_claimable ON nightshift.job_runs (priority, id) WHERE state IN ('pending', 'retrying');
CREATE INDEX job_runs_leased ON nightshift.job_runs (lease_expires_at) WHERE state = 'running';

-- A transition's "at" is the runner's clock; recorded_at is the database's real time.
ALTER TABLE nightshift.state_transitions ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT clock_timestamp();
ALTER TABLE nightshift.state_transitions ADD COLUMN runner text;

-- Every runner process: its identity (host, pid, start), its clock and its heartbeat.
CREATE TABLE nightshift.runners (
    id              text        PRIMARY KEY,
    host            text        NOT NULL,
    pid             int         NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    clock_start     timestamptz NOT NULL,
    clock_speed     float8      NOT NULL,
    clock_now       timestamptz NOT NULL,
    heartbeat_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    state           text        NOT NULL CHECK (state IN ('running', 'stopping', 'stopped')),
    stopped_at      timestamptz,
    is_leader       boolean     NOT NULL DEFAULT false,
    workers         int         NOT NULL,
    mode            text        NOT NULL
);

-- How far the leader has evaluated each batch's schedule (runner clock): what lies after it and
-- is due fires on the next pass; downtime in between is judged by the misfire policy.
CREATE TABLE nightshift.schedule_cursors (
    batch           text        PRIMARY KEY CHECK (batch IN ('daily', 'weekly', 'monthly', 'yearend')),
    evaluated_through timestamptz NOT NULL,
    updated_by      text        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Rows the checkpoint had already done when its current job run first took it over: the rows a
-- job run reports are rows_done - run_base_rows, however often the run was resumed.
ALTER TABLE nightshift.checkpoints ADD COLUMN run_base_rows bigint NOT NULL DEFAULT 0;

-- Why the summary of a closed batch could not be written (retried on every rescuer pass).
ALTER TABLE nightshift.batch_runs ADD COLUMN summary_error text;

-- When the current attempt started in real time (database clock): rows per second for status.
ALTER TABLE nightshift.job_runs ADD COLUMN attempt_started_real timestamptz;
