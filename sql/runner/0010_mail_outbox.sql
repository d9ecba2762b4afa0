-- The mail outbox. Every message NightShift sends is first a row here, inserted in the same
-- transaction as what it reports (a batch's summary is queued with the mark that the summary is
-- written), so a message is never lost and never queued twice. Mail senders (one per runner)
-- deliver it over SMTP; states (NightShiftCore.MailState):
--   queued   waiting for its next attempt at next_attempt_at (new, or after a failed attempt)
--   sending  claimed by a sender (claimed_by) until lease_expires_at; an expired lease means the
--            sender died mid-delivery, and the message is claimed again
--   sent     the server accepted it (last_reply is its answer, e.g. "250 2.0.0 Ok: queued as …")
--   dead     a dead letter: refused for good (5xx) or failed max_attempts times; last_reply and
--            last_error say why. `nightshift mail retry ID` queues it again.
-- Times are the runner's clock, except the lease, which is the database's (as for job leases).
CREATE TABLE nightshift.mail_outbox (
    id               bigserial   PRIMARY KEY,
    -- summary, … : what the message is; dedupe_key names what it is about (e.g. summary:batch_run:42).
    kind             text        NOT NULL,
    dedupe_key       text        NOT NULL UNIQUE,
    batch_run_id     bigint      REFERENCES nightshift.batch_runs,
    message_id       text        NOT NULL,
    subject          text        NOT NULL,
    -- The SMTP envelope (bare addresses) and the whole RFC 5322 message as it goes on the wire.
    envelope_from    text        NOT NULL,
    envelope_to      text[]      NOT NULL CHECK (cardinality(envelope_to) > 0),
    message          text        NOT NULL, -- 7-bit by construction (encoded headers, base64 bodies)
    state            text        NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'sent', 'dead')),
    attempts         int         NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    claimed_by       text,
    lease_expires_at timestamptz,
    last_error       text,
    last_reply       text,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz,
    CHECK ((state = 'sending') = (claimed_by IS NOT NULL AND lease_expires_at IS NOT NULL))
);
CREATE INDEX mail_outbox_due ON nightshift.mail_outbox (next_attempt_at, id) WHERE state IN ('queued', 'sending');

-- Append-only: every delivery attempt and every other change of a message's state, with the
-- server's reply and curl's code when there was one.
CREATE TABLE nightshift.mail_transitions (
    id          bigserial   PRIMARY KEY,
    mail_id     bigint      NOT NULL REFERENCES nightshift.mail_outbox ON DELETE CASCADE,
    from_state  text,
    to_state    text        NOT NULL,
    attempt     int         NOT NULL,
    runner      text,
    reply_code  int,
    reply       text,
    curl_code   int,
    error       text,
    at          timestamptz NOT NULL
);
CREATE INDEX mail_transitions_by_mail ON nightshift.mail_transitions (mail_id);
