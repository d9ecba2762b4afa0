-- Operators' instructions for one job in one batch run: skip it, or run it without waiting for a
-- dependency. Append-only with who asked and why; `applied_to` links the job run that honoured it.
CREATE TABLE nightshift.manual_overrides (
    id              bigserial PRIMARY KEY,
    batch           text        NOT NULL CHECK (batch IN ('daily', 'weekly', 'monthly', 'yearend')),
    business_date   date        NOT NULL,
    job             text        NOT NULL,
    action          text        NOT NULL CHECK (action IN ('skip', 'ignore_dependency')),
    dependency      text,
    requested_by    text        NOT NULL CHECK (requested_by <> ''),
    reason          text        NOT NULL CHECK (reason <> ''),
    requested_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    applied_to      bigint      REFERENCES nightshift.job_runs,
    CHECK ((action = 'ignore_dependency') = (dependency IS NOT NULL))
);
CREATE INDEX manual_overrides_by_run ON nightshift.manual_overrides (batch, business_date);
