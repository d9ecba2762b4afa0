-- NightShift runner schema: batch runs, job runs, every state transition, checkpoints, outputs.
-- Times are timestamptz; "scheduled_for" is the (possibly simulated) instant the batch ran for,
-- the other times are the wall clock.

CREATE SCHEMA IF NOT EXISTS nightshift;

CREATE TABLE nightshift.batch_runs (
    id              bigserial PRIMARY KEY,
    batch           text        NOT NULL CHECK (batch IN ('daily', 'weekly', 'monthly', 'yearend')),
    business_date   date        NOT NULL,
    scheduled_for   timestamptz NOT NULL,
    trigger         text        NOT NULL,
    state           text        NOT NULL CHECK (state IN ('running', 'succeeded', 'failed')),
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at     timestamptz,
    jobs_total      int         NOT NULL DEFAULT 0,
    jobs_succeeded  int         NOT NULL DEFAULT 0,
    jobs_failed     int         NOT NULL DEFAULT 0,
    jobs_skipped    int         NOT NULL DEFAULT 0
);
CREATE INDEX batch_runs_by_date ON nightshift.batch_runs (batch, business_date);

CREATE TABLE nightshift.job_runs (
    id              bigserial PRIMARY KEY,
    batch_run_id    bigint      NOT NULL REFERENCES nightshift.batch_runs,
    job             text        NOT NULL,
    kind            text        NOT NULL,
    priority        smallint    NOT NULL CHECK (priority BETWEEN 1 AND 4),
    state           text        NOT NULL CHECK (state IN ('pending', 'running', 'retrying', 'succeeded', 'failed', 'skipped')),
    attempts        int         NOT NULL DEFAULT 0,
    started_at      timestamptz,
    finished_at     timestamptz,
    rows_processed  bigint      NOT NULL DEFAULT 0,
    error_class     text        CHECK (error_class IN ('transient', 'permanent', 'bad_record')),
    error_sqlstate  text,
    error_message   text,
    skip_reason     text,
    UNIQUE (batch_run_id, job)
);
CREATE INDEX job_runs_by_job ON nightshift.job_runs (job, finished_at);

-- Append-only: one row per state change of a batch (job_run_id NULL) or of a job.
CREATE TABLE nightshift.state_transitions (
    id              bigserial PRIMARY KEY,
    batch_run_id    bigint      NOT NULL REFERENCES nightshift.batch_runs,
    job_run_id      bigint      REFERENCES nightshift.job_runs,
    from_state      text,
    to_state        text        NOT NULL,
    reason          text,
    at              timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX state_transitions_by_job ON nightshift.state_transitions (job_run_id);

-- One row per (job, business date): the key position reached and the rows done, written in the
-- same transaction as the chunk it describes. A crashed or failed run resumes after last_key.
CREATE TABLE nightshift.checkpoints (
    job             text        NOT NULL,
    business_date   date        NOT NULL,
    job_run_id      bigint      REFERENCES nightshift.job_runs,
    last_key        bigint      NOT NULL,
    rows_done       bigint      NOT NULL,
    chunks_done     int         NOT NULL,
    completed       boolean     NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (job, business_date)
);

-- Every file a run produced: exports, manifests, summary messages.
CREATE TABLE nightshift.outputs (
    id              bigserial PRIMARY KEY,
    batch_run_id    bigint      NOT NULL REFERENCES nightshift.batch_runs,
    job_run_id      bigint      REFERENCES nightshift.job_runs,
    kind            text        NOT NULL CHECK (kind IN ('export', 'manifest', 'summary_mail')),
    path            text        NOT NULL,
    sha256          text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes           bigint      NOT NULL,
    rows            bigint,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Job SQL reads its parameters through these functions. The runner sets them with bound values
-- (set_config($1, $2, true)) at the start of each transaction; nothing is spliced into SQL text.
CREATE FUNCTION nightshift.business_date() RETURNS date
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT current_setting('nightshift.business_date')::date $$;

CREATE FUNCTION nightshift.after_key() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(nullif(current_setting('nightshift.after_key', true), ''), '0')::bigint $$;

CREATE FUNCTION nightshift.chunk_size() RETURNS int
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(nullif(current_setting('nightshift.chunk_size', true), ''), '1000')::int $$;

CREATE FUNCTION nightshift.time_zone() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(nullif(current_setting('nightshift.time_zone', true), ''), 'Asia/Taipei') $$;
