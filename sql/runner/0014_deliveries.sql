-- Deliveries: one row per (output, target) a job names in `deliver_to:`, inserted in the
-- transaction that publishes the output, so a published file is never forgotten and never queued
-- twice. Delivery senders (one per runner) upload it over SFTP; states (NightShiftCore.DeliveryState):
--   queued     waiting for its next attempt at next_attempt_at
--   sending    claimed by a sender (claimed_by) until lease_expires_at; an expired lease means the
--              sender died mid-upload: it is claimed again and the upload redone
--   delivered  the server holds it under its final name with the right size: remote_path,
--              remote_bytes and delivered_at are the receipt (the SHA-256 is the output's)
--   dead       refused for good or failed max_attempts times; last_error says why
-- Within one job run and target, a file is delivered only after those with a lower seq: an
-- export's archives first, its manifest (and signature) last.
CREATE TABLE nightshift.deliveries (
    id               bigserial   PRIMARY KEY,
    output_id        bigint      NOT NULL REFERENCES nightshift.outputs ON DELETE CASCADE,
    job_run_id       bigint      NOT NULL REFERENCES nightshift.job_runs ON DELETE CASCADE,
    target           text        NOT NULL,
    remote_name      text        NOT NULL,
    seq              int         NOT NULL,
    state            text        NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'delivered', 'dead')),
    attempts         int         NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    claimed_by       text,
    lease_expires_at timestamptz,
    last_error       text,
    curl_code        int,
    remote_path      text,
    remote_bytes     bigint,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL,
    UNIQUE (output_id, target),
    CHECK ((state = 'sending') = (claimed_by IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CHECK ((state = 'delivered') = (delivered_at IS NOT NULL))
);
CREATE INDEX deliveries_due ON nightshift.deliveries (next_attempt_at, id) WHERE state IN ('queued', 'sending');
CREATE INDEX deliveries_by_job_run ON nightshift.deliveries (job_run_id, target, seq);

-- Append-only: every attempt and every other change of a delivery's state.
CREATE TABLE nightshift.delivery_transitions (
    id           bigserial   PRIMARY KEY,
    delivery_id  bigint      NOT NULL REFERENCES nightshift.deliveries ON DELETE CASCADE,
    from_state   text,
    to_state     text        NOT NULL,
    attempt      int         NOT NULL,
    runner       text,
    curl_code    int,
    error        text,
    at           timestamptz NOT NULL
);
CREATE INDEX delivery_transitions_by_delivery ON nightshift.delivery_transitions (delivery_id);
