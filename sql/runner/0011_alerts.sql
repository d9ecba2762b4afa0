-- Immediate alerts to the on-call list (mail.on_call): one row per incident, so an incident is
-- alerted once however often it is seen (a retry, another runner, the next pass). `incident`
-- names what it is about, e.g. p1_failed:job_run:42, window_miss:batch_run:7,
-- late_start:job_run:9, lease_lost:job_run:5:attempt:2, outbox_backlog:mail:12, mail_dead:mail:13.
-- The alert's mail (if anyone is on call) is in the outbox with dedupe_key alert:<incident>.
CREATE TABLE nightshift.alerts (
    id            bigserial   PRIMARY KEY,
    incident      text        NOT NULL UNIQUE,
    kind          text        NOT NULL CHECK (kind IN ('p1_failed', 'window_miss', 'late_start', 'lease_lost', 'outbox_backlog', 'mail_dead')),
    batch_run_id  bigint      REFERENCES nightshift.batch_runs,
    job_run_id    bigint      REFERENCES nightshift.job_runs,
    subject       text        NOT NULL,
    detail        text        NOT NULL,
    raised_at     timestamptz NOT NULL,
    raised_by     text        NOT NULL,
    mail_id       bigint      REFERENCES nightshift.mail_outbox
);
CREATE INDEX alerts_by_time ON nightshift.alerts (raised_at);
