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

-- `nightshift deliveries retry ID` is a manager's action, like `mail retry`.
CREATE OR REPLACE FUNCTION nightshift.role_refusal(p_account text, p_action text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
DECLARE
    v_role text;
    v_needed text := CASE
        WHEN p_action IN ('list', 'archive_list') THEN 'operator'
        WHEN p_action IN ('submit', 'approve', 'reject', 'cancel', 'run_once', 'override', 'review', 'mail_retry', 'delivery_retry', 'archive_verify') THEN 'manager'
        WHEN p_action = 'archive_restore' THEN 'director'
        END;
BEGIN
    IF v_needed IS NULL THEN
        RETURN format('%s is not an action NightShift knows', p_action);
    END IF;
    SELECT o.role INTO v_role FROM nightshift.operators o WHERE o.account = p_account;
    IF v_role IS NULL THEN
        RETURN format('%s is not in etc/operators.yaml; ask an administrator to add the account with its role', p_account);
    END IF;
    IF nightshift.role_rank(v_role) < nightshift.role_rank(v_needed) THEN
        RETURN format('%s is %s %s; to %s needs %s %s or above (etc/operators.yaml)', p_account,
                      CASE WHEN v_role = 'operator' THEN 'an' ELSE 'a' END, v_role,
                      CASE p_action
                          WHEN 'list' THEN 'list requests'
                          WHEN 'archive_list' THEN 'list the archive catalog'
                          WHEN 'submit' THEN 'submit a request'
                          WHEN 'approve' THEN 'approve a request'
                          WHEN 'reject' THEN 'reject a request'
                          WHEN 'cancel' THEN 'cancel a request'
                          WHEN 'run_once' THEN 'run a batch by hand (run --once)'
                          WHEN 'override' THEN 'record an override'
                          WHEN 'review' THEN 'retry or dismiss a review item'
                          WHEN 'mail_retry' THEN 'send a dead letter again'
                          WHEN 'delivery_retry' THEN 'send a delivery again'
                          WHEN 'archive_verify' THEN 'verify an archive'
                          WHEN 'archive_restore' THEN 'restore an archive'
                      END,
                      CASE WHEN v_needed = 'operator' THEN 'an' ELSE 'a' END, v_needed);
    END IF;
    RETURN NULL;
END $$;

-- A dead delivery is an alert (Alerts.swift).
ALTER TABLE nightshift.alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE nightshift.alerts ADD CONSTRAINT alerts_kind_check
    CHECK (kind IN ('p1_failed', 'window_miss', 'late_start', 'lease_lost', 'outbox_backlog', 'mail_dead', 'runner_problem', 'delivery_dead'));
