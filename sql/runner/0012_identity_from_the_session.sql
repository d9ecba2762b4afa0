-- Who asks is the database session, never an argument.
--
-- Every person has a database role of their own (locally: peer authentication maps the
-- operating-system account to the role of the same name; remotely: their own password or
-- certificate). The request functions take the actor from session_user; the person's role
-- (operator / manager / director), the daily quota, whether a second manager must approve, and the
-- rule that nobody approves their own request are decided here, from tables that only the runner's
-- login writes: nightshift.operators and nightshift.request_policy, which the runner keeps equal to
-- etc/operators.yaml and etc/nightshift.yaml (`nightshift migrate`, every `run`; `nightshift
-- check` shows any difference). No argument a caller passes decides any of them.
--
-- Requests from the HTTP trigger and event files are made by the runner only
-- (nightshift.submit_system_request, not granted to people).

CREATE TABLE nightshift.operators (
    account         text        PRIMARY KEY CHECK (account <> ''),
    role            text        NOT NULL CHECK (role IN ('operator', 'manager', 'director'))
);

CREATE TABLE nightshift.request_policy (
    only_row        boolean     PRIMARY KEY DEFAULT true CHECK (only_row),
    needs_approval  boolean     NOT NULL,
    quota_per_day   int         NOT NULL CHECK (quota_per_day > 0),
    approval_hours  int         NOT NULL CHECK (approval_hours > 0),
    time_zone       text        NOT NULL
);
-- Until the runner writes it: production rules, the strictest.
INSERT INTO nightshift.request_policy (needs_approval, quota_per_day, approval_hours, time_zone)
VALUES (true, 3, 24, 'Asia/Taipei');

-- An API request names its key and the key's scope (the batches it may start).
ALTER TABLE nightshift.requests ADD COLUMN api_key text, ADD COLUMN api_scope text[];

-- The old functions trusted their caller for the actor, the role, the approval rule and the quota.
DROP FUNCTION nightshift.submit_request(text, text, text, text, date, smallint, text, text, text, text, boolean, int, text);
DROP FUNCTION nightshift.decide_request(bigint, text, text, boolean, text, text, text);
DROP FUNCTION nightshift.refuse_attempt(text, text, text, text, bigint);

-- The rank of a role (0 when the account is not listed).
CREATE FUNCTION nightshift.role_rank(p_role text) RETURNS int LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_role WHEN 'operator' THEN 1 WHEN 'manager' THEN 2 WHEN 'director' THEN 3 ELSE 0 END
$$;

-- Why `p_account` may not do `p_action`, or NULL when it may. Actions and the role they need:
-- list, archive_list (operator); submit, approve, reject, cancel, run_once, override, review, mail_retry,
-- archive_verify (manager); archive_restore (director).
CREATE FUNCTION nightshift.role_refusal(p_account text, p_action text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
DECLARE
    v_role text;
    v_needed text := CASE
        WHEN p_action IN ('list', 'archive_list') THEN 'operator'
        WHEN p_action IN ('submit', 'approve', 'reject', 'cancel', 'run_once', 'override', 'review', 'mail_retry', 'archive_verify') THEN 'manager'
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
                          WHEN 'archive_verify' THEN 'verify an archive'
                          WHEN 'archive_restore' THEN 'restore an archive'
                      END,
                      CASE WHEN v_needed = 'operator' THEN 'an' ELSE 'a' END, v_needed);
    END IF;
    RETURN NULL;
END $$;

-- The audit's word for who asked: the session's role, marked when it is a superuser (who could
-- change anything anyway, and is recorded as exactly that, never as a person it names).
CREATE FUNCTION nightshift.session_actor() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
    SELECT session_user::text
$$;

-- Records an attempt refused by the client before it became a request (a bad target, a missing
-- reason), so that every attempt is in the audit; the actor is the session's role.
CREATE FUNCTION nightshift.refuse_attempt(p_host text, p_command text, p_reason text, p_request_id bigint)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
    INSERT INTO nightshift.audit (actor, host, command, outcome, request_id, detail)
    VALUES (session_user, p_host, p_command, 'refused', p_request_id, left(p_reason, 2000));
$$;

-- The one gate for a person's action: the role it needs, and in production no work started by a
-- person outside an approved request. Audited either way (accepted or refused). Returns the
-- refusal, or NULL when the action may go ahead; `actor` is who the database says is asking.
CREATE FUNCTION nightshift.authorize(p_action text, p_detail text, p_host text, p_command text)
RETURNS TABLE (actor text, refusal text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
#variable_conflict use_column
DECLARE
    v_actor text := session_user;
    v_refusal text := nightshift.role_refusal(session_user, p_action);
    v_policy nightshift.request_policy%ROWTYPE;
BEGIN
    SELECT * INTO v_policy FROM nightshift.request_policy;
    IF v_refusal IS NULL AND p_action = 'run_once' AND v_policy.needs_approval THEN
        v_refusal := 'production: a person starts work only through a request a second manager approves; '
                     || 'use `nightshift submit` (the running service runs it once approved)';
    END IF;
    -- Reading is audited when refused; everything else always.
    IF v_refusal IS NOT NULL OR p_action <> 'list' THEN
        INSERT INTO nightshift.audit (actor, host, command, outcome, detail)
        VALUES (v_actor, p_host, p_command,
                CASE WHEN v_refusal IS NOT NULL THEN 'refused' WHEN p_action = 'archive_list' THEN 'listed' ELSE 'accepted' END,
                left(coalesce(v_refusal, p_detail), 2000));
    END IF;
    RETURN QUERY SELECT v_actor, v_refusal;
END $$;

-- A person's request (source cli): the session's role asks; its role, the quota and the approval
-- rule come from the runner's tables. The quota is counted under a lock per person, so two
-- submissions at once cannot both take the last one. Returns the request id and its state, or
-- the refusal (audited).
CREATE FUNCTION nightshift.submit_request(p_target text, p_batch text, p_job text, p_business_date date, p_priority smallint,
                                          p_reason text, p_host text, p_command text)
RETURNS TABLE (request_id bigint, state text, refusal text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
#variable_conflict use_column
DECLARE
    v_actor text := session_user;
    v_policy nightshift.request_policy%ROWTYPE;
    v_refusal text := nightshift.role_refusal(session_user, 'submit');
    v_day date;
    v_used int;
    v_id bigint;
    v_state text;
BEGIN
    SELECT * INTO v_policy FROM nightshift.request_policy;
    v_day := (clock_timestamp() AT TIME ZONE v_policy.time_zone)::date;
    v_state := CASE WHEN v_policy.needs_approval THEN 'awaiting_approval' ELSE 'accepted' END;
    IF v_refusal IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('nightshift.quota'), hashtext(v_actor));
        SELECT count(*) INTO v_used FROM nightshift.requests r WHERE r.requested_by = v_actor AND r.quota_day = v_day
            AND r.state <> 'refused' AND r.source = 'cli';
        IF v_used >= v_policy.quota_per_day THEN
            v_refusal := format('%s has made %s request(s) today (%s), the most allowed in a day (quota_per_day in etc/operators.yaml); try again tomorrow',
                                v_actor, v_used, v_day);
        END IF;
    END IF;
    IF v_refusal IS NOT NULL THEN
        INSERT INTO nightshift.audit (actor, host, command, outcome, detail) VALUES (v_actor, p_host, p_command, 'refused', v_refusal);
        RETURN QUERY SELECT NULL::bigint, 'refused'::text, v_refusal;
        RETURN;
    END IF;
    INSERT INTO nightshift.requests (source, target, batch, job, business_date, priority, reason, requested_by, host, quota_day,
                                     state, state_reason)
    VALUES ('cli', p_target, p_batch, p_job, p_business_date, p_priority, p_reason, v_actor, p_host, v_day, v_state,
            CASE WHEN v_policy.needs_approval THEN 'production: waits for a second manager''s approval' END)
    RETURNING id INTO v_id;
    INSERT INTO nightshift.audit (actor, host, command, outcome, request_id, detail)
    VALUES (v_actor, p_host, p_command, 'accepted', v_id,
            CASE WHEN v_policy.needs_approval THEN 'awaiting approval' ELSE 'accepted for the queue' END);
    PERFORM pg_notify('nightshift_requests', v_id::text);
    RETURN QUERY SELECT v_id, v_state, NULL::text;
END $$;

-- A request the runner makes for the HTTP trigger (the key's name and scope) or an event file
-- (its source). Only the runner's login may call it.
CREATE FUNCTION nightshift.submit_system_request(p_source text, p_requested_by text, p_api_key text, p_api_scope text[],
                                                 p_target text, p_batch text, p_job text, p_business_date date,
                                                 p_priority smallint, p_reason text, p_host text, p_command text, p_quota int)
RETURNS TABLE (request_id bigint, state text, refusal text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
#variable_conflict use_column
DECLARE
    v_policy nightshift.request_policy%ROWTYPE;
    v_day date;
    v_used int;
    v_id bigint;
    v_refusal text;
BEGIN
    IF p_source NOT IN ('api', 'event') THEN
        RAISE EXCEPTION 'submit_system_request makes api and event requests, not %', p_source USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO v_policy FROM nightshift.request_policy;
    v_day := (clock_timestamp() AT TIME ZONE v_policy.time_zone)::date;
    IF p_quota IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext('nightshift.quota'), hashtext(p_requested_by));
        SELECT count(*) INTO v_used FROM nightshift.requests r WHERE r.requested_by = p_requested_by AND r.quota_day = v_day
            AND r.state <> 'refused';
        IF v_used >= p_quota THEN
            v_refusal := format('%s has made %s request(s) today (%s), the most allowed in a day; try again tomorrow',
                                p_requested_by, v_used, v_day);
            INSERT INTO nightshift.audit (actor, host, command, outcome, detail)
            VALUES (p_requested_by, p_host, p_command, 'refused', v_refusal);
            RETURN QUERY SELECT NULL::bigint, 'refused'::text, v_refusal;
            RETURN;
        END IF;
    END IF;
    INSERT INTO nightshift.requests (source, target, batch, job, business_date, priority, reason, requested_by, host, quota_day,
                                     state, api_key, api_scope)
    VALUES (p_source, p_target, p_batch, p_job, p_business_date, p_priority, p_reason, p_requested_by, p_host, v_day, 'accepted',
            p_api_key, p_api_scope)
    RETURNING id INTO v_id;
    INSERT INTO nightshift.audit (actor, host, command, outcome, request_id, detail)
    VALUES (p_requested_by, p_host, p_command, 'accepted', v_id, 'accepted for the queue');
    PERFORM pg_notify('nightshift_requests', v_id::text);
    RETURN QUERY SELECT v_id, 'accepted'::text, NULL::text;
END $$;

-- Approves, rejects or cancels a request as the session's role: approve and reject need a manager
-- who did not ask for it; cancel, the person who asked or a director. Cancelling a queued request
-- whose jobs have not started ends its batch run as cancelled. Returns the new state, or the
-- refusal (also audited).
CREATE FUNCTION nightshift.decide_request(p_id bigint, p_action text, p_reason text, p_host text, p_command text)
RETURNS TABLE (state text, refusal text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
#variable_conflict use_column
DECLARE
    v_actor text := session_user;
    r nightshift.requests%ROWTYPE;
    v_refusal text;
    v_started int;
    v_new text;
    v_role text;
BEGIN
    IF p_action NOT IN ('approve', 'reject', 'cancel') THEN
        v_refusal := format('%s is not a decision; approve, reject or cancel', p_action);
    ELSE
        v_refusal := nightshift.role_refusal(v_actor, p_action);
    END IF;
    SELECT o.role INTO v_role FROM nightshift.operators o WHERE o.account = v_actor;
    SELECT * INTO r FROM nightshift.requests WHERE id = p_id FOR UPDATE;
    IF v_refusal IS NOT NULL THEN
        NULL;
    ELSIF NOT FOUND THEN
        v_refusal := format('there is no request #%s; `nightshift requests` lists them', p_id);
    ELSIF p_action IN ('approve', 'reject') AND r.state <> 'awaiting_approval' THEN
        v_refusal := format('request #%s is %s, not awaiting approval', p_id, r.state);
    ELSIF p_action IN ('approve', 'reject') AND r.requested_by = v_actor THEN
        v_refusal := format('request #%s is %s''s own: a second manager must %s it', p_id, v_actor, p_action);
    ELSIF p_action = 'cancel' AND r.requested_by <> v_actor AND v_role IS DISTINCT FROM 'director' THEN
        v_refusal := format('request #%s is %s''s: only they or a director may cancel it', p_id, r.requested_by);
    ELSIF p_action = 'cancel' AND r.state NOT IN ('awaiting_approval', 'accepted', 'queued') THEN
        v_refusal := format('request #%s is %s already', p_id, r.state);
    END IF;
    IF v_refusal IS NULL AND p_action = 'cancel' AND r.state = 'queued' THEN
        SELECT count(*) INTO v_started FROM nightshift.job_runs j WHERE j.batch_run_id = r.batch_run_id AND j.state <> 'pending';
        IF v_started > 0 THEN
            v_refusal := format('request #%s has started (batch run #%s); skip its remaining jobs with `nightshift override`',
                                p_id, r.batch_run_id);
        END IF;
    END IF;
    IF v_refusal IS NOT NULL THEN
        INSERT INTO nightshift.audit (actor, host, command, outcome, request_id, detail)
        VALUES (v_actor, p_host, p_command, 'refused', CASE WHEN r.id IS NOT NULL THEN p_id END, v_refusal);
        RETURN QUERY SELECT NULL::text, v_refusal;
        RETURN;
    END IF;
    IF p_action = 'approve' THEN
        v_new := 'accepted';
        UPDATE nightshift.requests SET state = v_new, state_reason = NULL, approved_by = v_actor, approved_at = clock_timestamp()
            WHERE id = p_id;
        PERFORM pg_notify('nightshift_requests', p_id::text);
    ELSE
        v_new := CASE p_action WHEN 'reject' THEN 'rejected' ELSE 'cancelled' END;
        UPDATE nightshift.requests SET state = v_new, state_reason = p_reason, decided_by = v_actor, decided_at = clock_timestamp()
            WHERE id = p_id;
        IF r.state = 'queued' THEN
            WITH moved AS (
                UPDATE nightshift.job_runs SET state = 'skipped', skipped_by_override = true, finished_at = clock_timestamp(),
                       skip_reason = format('request #%s cancelled by %s', p_id, v_actor)
                WHERE batch_run_id = r.batch_run_id AND state = 'pending' RETURNING id)
            INSERT INTO nightshift.state_transitions (batch_run_id, job_run_id, from_state, to_state, reason)
            SELECT r.batch_run_id, id, 'pending', 'skipped', format('request #%s cancelled by %s', p_id, v_actor) FROM moved;
            UPDATE nightshift.batch_runs SET state = 'cancelled', finished_at = clock_timestamp(), summary_at = clock_timestamp()
                WHERE id = r.batch_run_id AND state = 'running';
            INSERT INTO nightshift.state_transitions (batch_run_id, from_state, to_state, reason)
            VALUES (r.batch_run_id, 'running', 'cancelled', format('request #%s cancelled by %s', p_id, v_actor));
        END IF;
    END IF;
    INSERT INTO nightshift.audit (actor, host, command, outcome, request_id, detail)
    VALUES (v_actor, p_host, p_command, CASE p_action WHEN 'approve' THEN 'approved' WHEN 'reject' THEN 'rejected' ELSE 'cancelled' END,
            p_id, p_reason);
    RETURN QUERY SELECT v_new, NULL::text;
END $$;

REVOKE ALL ON FUNCTION nightshift.role_rank, nightshift.role_refusal, nightshift.session_actor, nightshift.refuse_attempt,
    nightshift.authorize, nightshift.submit_request, nightshift.submit_system_request, nightshift.decide_request FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nightshift_requester') THEN
        GRANT EXECUTE ON FUNCTION nightshift.submit_request, nightshift.refuse_attempt, nightshift.decide_request,
            nightshift.authorize TO nightshift_requester;
        GRANT SELECT ON nightshift.operators TO nightshift_requester;
    END IF;
END $$;
