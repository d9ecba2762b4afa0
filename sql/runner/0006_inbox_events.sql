-- Event files taken from the inbox (paths.inbox), one row per distinct content: the SHA-256 is
-- unique, so the same content dropped twice is one event, and a runner killed while handling a
-- file finds its row on the next pass and only finishes moving the file. A valid event that runs
-- work has the request it made (source 'event'), created in the same transaction.

CREATE TABLE nightshift.events (
    id              bigserial   PRIMARY KEY,
    sha256          text        NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    -- The file's name when it was first taken, and how often the same content came again.
    file_name       text        NOT NULL,
    duplicates      int         NOT NULL DEFAULT 0,
    received_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    runner          text        NOT NULL,
    state           text        NOT NULL CHECK (state IN ('processed', 'rejected')),
    -- Why it was rejected (also in rejected/<file>.reason).
    reason          text,
    type            text,
    business_date   date,
    priority        smallint    CHECK (priority BETWEEN 1 AND 4),
    source          text,
    job             text,
    request_id      bigint      REFERENCES nightshift.requests
);
CREATE INDEX events_by_type ON nightshift.events (type, business_date) WHERE state = 'processed';

-- A batch run held until a condition is met (the monthly batch waits for the month-end close):
-- what it waits for, in words; NULL once released.
ALTER TABLE nightshift.batch_runs ADD COLUMN waiting_for text;
