-- Backfill: one request that runs a batch for a range of past business dates, every job at P4
-- (so it runs only where the windows let P4 run, after everything else). The request names the
-- first date (business_date) and the last (business_date_to); the runner makes one batch run per
-- date, each pointing back at the request (batch_runs.request_id), and the request is finished
-- when all of them have ended.
ALTER TABLE nightshift.requests ADD COLUMN business_date_to date;
ALTER TABLE nightshift.requests ADD CONSTRAINT requests_backfill_range CHECK (
    business_date_to IS NULL OR (business_date IS NOT NULL AND job IS NULL AND business_date_to >= business_date
                                 AND business_date_to - business_date <= 92));
-- A request made at most one batch run; a backfill makes one per business date of its range.
DROP INDEX nightshift.batch_runs_by_request;
CREATE UNIQUE INDEX batch_runs_by_request ON nightshift.batch_runs (request_id, business_date) WHERE request_id IS NOT NULL;

-- A person's backfill: the same gate, quota, approval rule and audit as any request of theirs
-- (nightshift.submit_request, as the acting person), made a range in the same transaction, so the
-- runner never sees it as one date.
CREATE FUNCTION nightshift.submit_backfill(p_batch text, p_from date, p_to date, p_reason text, p_host text, p_command text)
RETURNS TABLE (request_id bigint, state text, refusal text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, nightshift AS $$
#variable_conflict use_column
DECLARE
    r record;
    v_refusal text;
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_to < p_from THEN
        v_refusal := 'a backfill needs a first and a last business date, the last not before the first';
    ELSIF p_to - p_from > 92 THEN
        v_refusal := format('a backfill covers at most 93 business dates (%s to %s is %s); split it', p_from, p_to, p_to - p_from + 1);
    END IF;
    IF v_refusal IS NOT NULL THEN
        PERFORM nightshift.refuse_attempt(p_host, p_command, v_refusal, NULL);
        RETURN QUERY SELECT NULL::bigint, 'refused'::text, v_refusal;
        RETURN;
    END IF;
    SELECT * INTO r FROM nightshift.submit_request('batch', p_batch, NULL, p_from, 4::smallint, p_reason, p_host, p_command);
    IF r.request_id IS NOT NULL THEN
        UPDATE nightshift.requests SET business_date_to = p_to WHERE id = r.request_id;
    END IF;
    RETURN QUERY SELECT r.request_id, r.state, r.refusal;
END $$;

REVOKE ALL ON FUNCTION nightshift.submit_backfill FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'nightshift_requester') THEN
        GRANT EXECUTE ON FUNCTION nightshift.submit_backfill TO nightshift_requester;
    END IF;
END $$;
