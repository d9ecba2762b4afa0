-- The web console's sessions. A person runs `nightshift console login` as their own database login
-- (as for `submit`): nightshift.issue_console_login records who the database says they are, their
-- role, and the SHA-256 of a one-time login secret the command made and prints as a link. Opening
-- the link in a browser (the runner's console) turns it into a session: the SHA-256 of a new
-- session secret, kept in the browser's cookie, with an expiry. Neither secret is stored.
--
-- A console action runs on the runner's connection, in a transaction where the setting
-- nightshift.console_session holds the session secret: nightshift.acting_account() then answers
-- the session's person (its secret hashed and looked up, open and not expired), and the same
-- gate, quota, approval rules and audit as the person's own commands apply to them. Outside a
-- console action it answers session_user, as before.
CREATE TABLE nightshift.console_sessions (
    id                 bigserial   PRIMARY KEY,
    account            text        NOT NULL,
    role               text        NOT NULL CHECK (role IN ('operator', 'manager', 'director')),
    login_sha256       text        NOT NULL UNIQUE CHECK (login_sha256 ~ '^[0-9a-f]{64}$'),
    login_expires_at   timestamptz NOT NULL,
    host               text        NOT NULL,
    state              text        NOT NULL DEFAULT 'issued' CHECK (state IN ('issued', 'open', 'closed')),
    session_sha256     text        UNIQUE CHECK (session_sha256 ~ '^[0-9a-f]{64}$'),
    opened_at          timestamptz,
    opened_from        text,
    expires_at         timestamptz,
    closed_at          timestamptz,
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK ((state = 'issued') = (session_sha256 IS NULL))
);
CREATE INDEX console_sessions_by_expiry ON nightshift.console_sessions (expires_at) WHERE state = 'open';

-- Nobody but the runner reads them (the viewer role reads every other table).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nightshift_viewer') THEN
        REVOKE ALL ON nightshift.console_sessions FROM nightshift_viewer;
    END IF;
END $$;

ALTER TABLE nightshift.audit DROP CONSTRAINT audit_outcome_check;
ALTER TABLE nightshift.audit ADD CONSTRAINT audit_outcome_check
    CHECK (outcome IN ('accepted', 'refused', 'approved', 'rejected', 'cancelled', 'expired', 'queued', 'finished',
                       'resolved', 'dismissed', 'retry_failed', 'listed', 'verified', 'restored', 'restore_failed', 'removed',
                       'signed_in', 'signed_out', 'skipped'));

-- Who acts: the console session's person inside a console action, else the session's login.
CREATE FUNCTION nightshift.acting_account() RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
DECLARE
    v_secret text := current_setting('nightshift.console_session', true);
    v_account text;
BEGIN
    IF v_secret IS NULL OR v_secret = '' THEN
        RETURN session_user;
    END IF;
    SELECT s.account INTO v_account FROM nightshift.console_sessions s
    WHERE s.session_sha256 = encode(sha256(convert_to(v_secret, 'UTF8')), 'hex') AND s.state = 'open'
      AND s.expires_at > clock_timestamp();
    IF v_account IS NULL THEN
        RAISE EXCEPTION 'the console session has ended or expired'
            USING ERRCODE = 'insufficient_privilege', HINT = 'run `nightshift console login` again';
    END IF;
    RETURN v_account;
END $$;

-- The gate, the request functions and the refusal record take the actor from acting_account()
-- instead of session_user: their own text, with that one change (so no rule is written twice).
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'nightshift' AND p.proname IN ('authorize', 'submit_request', 'decide_request', 'refuse_attempt')
    LOOP
        EXECUTE replace(pg_get_functiondef(f.oid), 'session_user', 'nightshift.acting_account()');
    END LOOP;
END $$;

-- `nightshift console login`: a person (listed in etc/operators.yaml) asks for a one-time link.
CREATE FUNCTION nightshift.issue_console_login(p_login_sha256 text, p_minutes int, p_host text, p_command text)
RETURNS TABLE (account text, role text, refusal text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
#variable_conflict use_column
DECLARE
    v_actor text := session_user;
    v_refusal text := nightshift.role_refusal(session_user, 'list');
    v_role text;
BEGIN
    IF v_refusal IS NULL AND (p_minutes IS NULL OR p_minutes NOT BETWEEN 1 AND 60) THEN
        v_refusal := 'a login link lasts 1 to 60 minutes';
    END IF;
    IF v_refusal IS NOT NULL THEN
        INSERT INTO nightshift.audit (actor, host, command, outcome, detail) VALUES (v_actor, p_host, p_command, 'refused', v_refusal);
        RETURN QUERY SELECT v_actor, NULL::text, v_refusal;
        RETURN;
    END IF;
    SELECT o.role INTO v_role FROM nightshift.operators o WHERE o.account = v_actor;
    INSERT INTO nightshift.console_sessions (account, role, login_sha256, login_expires_at, host)
    VALUES (v_actor, v_role, p_login_sha256, clock_timestamp() + make_interval(mins => p_minutes), p_host);
    INSERT INTO nightshift.audit (actor, host, command, outcome, detail)
    VALUES (v_actor, p_host, p_command, 'accepted', format('console login link issued (%s), valid %s min', v_role, p_minutes));
    RETURN QUERY SELECT v_actor, v_role, NULL::text;
END $$;

REVOKE ALL ON FUNCTION nightshift.acting_account, nightshift.issue_console_login FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nightshift_requester') THEN
        GRANT EXECUTE ON FUNCTION nightshift.issue_console_login, nightshift.acting_account TO nightshift_requester;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nightshift_viewer') THEN
        GRANT EXECUTE ON FUNCTION nightshift.issue_console_login, nightshift.acting_account TO nightshift_viewer;
    END IF;
END $$;
