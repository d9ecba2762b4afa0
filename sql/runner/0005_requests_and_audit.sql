-- Managers' requests and the audit trail.
--
-- A request asks for a batch (or one job) to run: from `nightshift submit` (the CLI), and later
-- from event files and the HTTP API. The runner service picks accepted requests up (NOTIFY on
-- channel nightshift_requests wakes it; it also polls) and turns each into a batch run in the
-- one queue, where windows, priorities and limits decide when it starts.
--
-- Every attempt and every step — accepted, refused (and why), approved, rejected, cancelled,
-- expired, queued (made a batch run), finished — is a row of nightshift.audit, which the database keeps
-- append-only: UPDATE, DELETE and TRUNCATE are refused by triggers, whoever asks.
--
-- A person's client does not need the runner's rights: the role nightshift_requester may only
-- call the narrow functions below (SECURITY DEFINER) and read requests; it cannot write any table.

CREATE TABLE nightshift.requests (
    id              bigserial   PRIMARY KEY,
    source          text        NOT NULL CHECK (source IN ('cli', 'event', 'api')),
    target          text        NOT NULL CHECK (target IN ('batch', 'job')),
    batch           text        NOT NULL CHECK (batch IN ('daily', 'weekly', 'monthly', 'yearend')),
    job             text        CHECK ((target = 'job') = (job IS NOT NULL)),
    -- NULL: the batch's business date at the instant it is queued.
    business_date   date,
    -- NULL: the jobs' own priorities.
    priority        smallint    CHECK (priority BETWEEN 1 AND 4),
    reason          text        NOT NULL CHECK (btrim(reason) <> ''),
    -- The operating-system account (CLI), the API key's name (API) or the event's source.
    requested_by    text        NOT NULL CHECK (requested_by <> ''),
    host            text        NOT NULL,
    db_user         text        NOT NULL DEFAULT session_user,
    client_addr     inet        DEFAULT inet_client_addr(),
    requested_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The calendar day (in the configured time zone) the quota counts it on.
    quota_day       date        NOT NULL,
    -- See RequestState (Sources/NightShiftCore/RequestState.swift).
    state           text        NOT NULL CHECK (state IN ('awaiting_approval', 'accepted', 'queued', 'finished',
                                                          'rejected', 'cancelled', 'expired', 'refused')),
    state_reason    text,
    approved_by     text,
    approved_at     timestamptz,
    -- Who rejected, cancelled or refused it, and when.
    decided_by      text,
    decided_at      timestamptz,
    batch_run_id    bigint      REFERENCES nightshift.batch_runs,
    -- The batch run's final state, once finished.
    outcome         text
);
CREATE INDEX requests_open ON nightshift.requests (id) WHERE state IN ('awaiting_approval', 'accepted', 'queued');
CREATE INDEX requests_quota ON nightshift.requests (requested_by, quota_day);

CREATE TABLE nightshift.audit (
    id              bigserial   PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Who: the operating-system account (or API key, event source, runner), where from.
    actor           text        NOT NULL,
    host            text        NOT NULL,
    db_user         text        NOT NULL DEFAULT session_user,
    client_addr     inet        DEFAULT inet_client_addr(),
    -- What was asked (the command line or API call) and what came of it.
    command         text        NOT NULL,
    -- queued: the runner made it a batch run (it starts when windows and limits allow).
    outcome         text        NOT NULL CHECK (outcome IN ('accepted', 'refused', 'approved', 'rejected', 'cancelled',
                                                            'expired', 'queued', 'finished')),
    request_id      bigint,
    detail          text
);
CREATE INDEX audit_by_request ON nightshift.audit (request_id);

CREATE FUNCTION nightshift.audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'nightshift.audit is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit rows are never changed or removed; add a new row instead';
END $$;
CREATE TRIGGER audit_no_update_or_delete BEFORE UPDATE OR DELETE ON nightshift.audit
    FOR EACH ROW EXECUTE FUNCTION nightshift.audit_is_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON nightshift.audit
    FOR EACH STATEMENT EXECUTE FUNCTION nightshift.audit_is_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON nightshift.audit FROM PUBLIC;

-- The request a batch run was made for.
ALTER TABLE nightshift.batch_runs ADD COLUMN request_id bigint REFERENCES nightshift.requests;
CREATE UNIQUE INDEX batch_runs_by_request ON nightshift.batch_runs (request_id) WHERE request_id IS NOT NULL;

-- A batch run cancelled with its request before any of its jobs started.
ALTER TABLE nightshift.batch_runs DROP CONSTRAINT batch_runs_state_check;
ALTER TABLE nightshift.batch_runs ADD CONSTRAINT batch_runs_state_check CHECK (state IN ('running', 'succeeded', 'failed', 'cancelled'));

-- Records a request, or its refusal when the person's quota for the day is used up. The quota is
-- counted under a lock per person, so two submissions at once cannot both take the last one.
-- Returns the request id and its state, or the refusal.
CREATE FUNCTION nightshift.submit_request(
    p_source text, p_target text, p_batch text, p_job text, p_business_date date, p_priority smallint, p_reason text,
    p_actor text, p_host text, p_command text, p_needs_approval boolean, p_quota int, p_zone text)
RETURNS TABLE (request_id bigint, state text, refusal text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
#variable_conflict use_column
DECLARE
    v_day date := (clock_timestamp() AT TIME ZONE p_zone)::date;
    v_used int;
    v_id bigint;
    v_state text := CASE WHEN p_needs_approval THEN 'awaiting_approval' ELSE 'accepted' END;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('nightshift.quota'), hashtext(p_actor));
    SELECT count(*) INTO v_used FROM nightshift.requests r WHERE r.requested_by = p_actor AND r.quota_day = v_day
        AND r.state <> 'refused';
    IF v_used >= p_quota THEN
        INSERT INTO nightshift.audit (actor, host, command, outcome, detail)
        VALUES (p_actor, p_host, p_command, 'refused',
                format('quota: %s already made %s request(s) on %s, the most allowed in a day is %s', p_actor, v_used, v_day, p_quota));
        RETURN QUERY SELECT NULL::bigint, 'refused'::text,
            format('%s has made %s request(s) today (%s), the most allowed in a day (quota_per_day in etc/operators.yaml); try again tomorrow',
                   p_actor, v_used, v_day);
        RETURN;
    END IF;
    INSERT INTO nightshift.requests (source, target, batch, job, business_date, priority, reason, requested_by, host, quota_day,
                                     state, state_reason)
    VALUES (p_source, p_target, p_batch, p_job, p_business_date, p_priority, p_reason, p_actor, p_host, v_day, v_state,
            CASE WHEN p_needs_approval THEN 'production: waits for a second manager''s approval' END)
    RETURNING id INTO v_id;
    INSERT INTO nightshift.audit (actor, host, command, outcome, request_id, detail)
    VALUES (p_actor, p_host, p_command, 'accepted', v_id,
            CASE WHEN p_needs_approval THEN 'awaiting approval' ELSE 'accepted for the queue' END);
    PERFORM pg_notify('nightshift_requests', v_id::text);
    RETURN QUERY SELECT v_id, v_state, NULL::text;
END $$;

-- Records an attempt refused before it became a request (unknown account, role too low, bad
-- target), so that every attempt is in the audit.
CREATE FUNCTION nightshift.refuse_attempt(p_actor text, p_host text, p_command text, p_reason text, p_request_id bigint)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
    INSERT INTO nightshift.audit (actor, host, command, outcome, request_id, detail)
    VALUES (p_actor, p_host, p_command, 'refused', p_request_id, p_reason);
$$;

-- Approves, rejects or cancels a request. The rules a database can hold are checked here (the
-- request's state; nobody approves or rejects their own request; only the requester or a
-- director cancels); who has which role is checked by the caller from etc/operators.yaml.
-- Cancelling a queued request whose jobs have not started ends its batch run as cancelled.
-- Returns the new state, or the refusal (also audited).
CREATE FUNCTION nightshift.decide_request(p_id bigint, p_action text, p_actor text, p_is_director boolean, p_host text,
                                          p_command text, p_reason text)
RETURNS TABLE (state text, refusal text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
#variable_conflict use_column
DECLARE
    r nightshift.requests%ROWTYPE;
    v_refusal text;
    v_started int;
    v_new text;
BEGIN
    SELECT * INTO r FROM nightshift.requests WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        v_refusal := format('there is no request #%s; `nightshift requests` lists them', p_id);
    ELSIF p_action IN ('approve', 'reject') AND r.state <> 'awaiting_approval' THEN
        v_refusal := format('request #%s is %s, not awaiting approval', p_id, r.state);
    ELSIF p_action IN ('approve', 'reject') AND r.requested_by = p_actor THEN
        v_refusal := format('request #%s is %s''s own: a second manager must %s it', p_id, p_actor, p_action);
    ELSIF p_action = 'cancel' AND r.requested_by <> p_actor AND NOT p_is_director THEN
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
        VALUES (p_actor, p_host, p_command, 'refused', CASE WHEN r.id IS NOT NULL THEN p_id END, v_refusal);
        RETURN QUERY SELECT NULL::text, v_refusal;
        RETURN;
    END IF;
    IF p_action = 'approve' THEN
        v_new := 'accepted';
        UPDATE nightshift.requests SET state = v_new, state_reason = NULL, approved_by = p_actor, approved_at = clock_timestamp()
            WHERE id = p_id;
        PERFORM pg_notify('nightshift_requests', p_id::text);
    ELSE
        v_new := CASE p_action WHEN 'reject' THEN 'rejected' ELSE 'cancelled' END;
        UPDATE nightshift.requests SET state = v_new, state_reason = p_reason, decided_by = p_actor, decided_at = clock_timestamp()
            WHERE id = p_id;
        IF r.state = 'queued' THEN
            WITH moved AS (
                UPDATE nightshift.job_runs SET state = 'skipped', skipped_by_override = true, finished_at = clock_timestamp(),
                       skip_reason = format('request #%s cancelled by %s', p_id, p_actor)
                WHERE batch_run_id = r.batch_run_id AND state = 'pending' RETURNING id)
            INSERT INTO nightshift.state_transitions (batch_run_id, job_run_id, from_state, to_state, reason)
            SELECT r.batch_run_id, id, 'pending', 'skipped', format('request #%s cancelled by %s', p_id, p_actor) FROM moved;
            UPDATE nightshift.batch_runs SET state = 'cancelled', finished_at = clock_timestamp(), summary_at = clock_timestamp()
                WHERE id = r.batch_run_id AND state = 'running';
            INSERT INTO nightshift.state_transitions (batch_run_id, from_state, to_state, reason)
            VALUES (r.batch_run_id, 'running', 'cancelled', format('request #%s cancelled by %s', p_id, p_actor));
        END IF;
    END IF;
    INSERT INTO nightshift.audit (actor, host, command, outcome, request_id, detail)
    VALUES (p_actor, p_host, p_command, CASE p_action WHEN 'approve' THEN 'approved' WHEN 'reject' THEN 'rejected' ELSE 'cancelled' END,
            p_id, p_reason);
    RETURN QUERY SELECT v_new, NULL::text;
END $$;

REVOKE ALL ON FUNCTION nightshift.submit_request FROM PUBLIC;
REVOKE ALL ON FUNCTION nightshift.refuse_attempt FROM PUBLIC;
REVOKE ALL ON FUNCTION nightshift.decide_request FROM PUBLIC;

-- The narrow role for people's clients (grant it to their database logins). Where the migrating
-- login may not create roles, a database administrator creates it and runs these grants.
DO $$
BEGIN
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nightshift_requester') THEN
            CREATE ROLE nightshift_requester NOLOGIN;
        END IF;
    EXCEPTION
        WHEN duplicate_object OR unique_violation THEN NULL; -- created by another database's migration at the same moment
        WHEN insufficient_privilege THEN
            RAISE NOTICE 'role nightshift_requester not created (no CREATEROLE); a database administrator should create it';
    END;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nightshift_requester') THEN
        GRANT USAGE ON SCHEMA nightshift TO nightshift_requester;
        GRANT EXECUTE ON FUNCTION nightshift.submit_request, nightshift.refuse_attempt, nightshift.decide_request TO nightshift_requester;
        GRANT SELECT ON nightshift.requests, nightshift.batch_runs, nightshift.job_runs TO nightshift_requester;
    END IF;
END $$;
