-- What keeps a runner's service from working, said by the runner itself (e.g. an inbox folder
-- that is a link or writable by others): shown by `status` and raised as an alert.
ALTER TABLE nightshift.runners ADD COLUMN problem text;

ALTER TABLE nightshift.alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE nightshift.alerts ADD CONSTRAINT alerts_kind_check
    CHECK (kind IN ('p1_failed', 'window_miss', 'late_start', 'lease_lost', 'outbox_backlog', 'mail_dead', 'runner_problem'));

-- The read-only role: enough for `status`, `history`, `requests`, `archive list`, `mail list`;
-- it writes nothing (grant it to the logins of people who only look). Where the migrating login
-- may not create roles, a database administrator creates it and runs these grants.
DO $$
BEGIN
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nightshift_viewer') THEN
            CREATE ROLE nightshift_viewer NOLOGIN;
        END IF;
    EXCEPTION
        WHEN duplicate_object OR unique_violation THEN NULL;
        WHEN insufficient_privilege THEN
            RAISE NOTICE 'role nightshift_viewer not created (no CREATEROLE); a database administrator should create it';
    END;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nightshift_viewer') THEN
        GRANT USAGE ON SCHEMA nightshift TO nightshift_viewer;
        GRANT SELECT ON ALL TABLES IN SCHEMA nightshift TO nightshift_viewer;
        ALTER DEFAULT PRIVILEGES IN SCHEMA nightshift GRANT SELECT ON TABLES TO nightshift_viewer;
        GRANT EXECUTE ON FUNCTION nightshift.authorize TO nightshift_viewer;
    END IF;
END $$;
