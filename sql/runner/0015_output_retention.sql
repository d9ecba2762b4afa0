-- Output retention: each published file's row says which job wrote it and for which business
-- date, so the leader's maintenance can remove the file when its retention (retention.outputs,
-- NightShiftCore.OutputRetention) has passed, and record that here (removed_at, removed_because)
-- and in the audit. The row outlives its run history: when history_days purges the batch run, the
-- row of a file still kept is unlinked from it (batch_run_id, job_run_id NULL) instead of deleted.
ALTER TABLE nightshift.outputs ALTER COLUMN batch_run_id DROP NOT NULL;
ALTER TABLE nightshift.outputs ADD COLUMN job text;
ALTER TABLE nightshift.outputs ADD COLUMN business_date date;
ALTER TABLE nightshift.outputs ADD COLUMN removed_at timestamptz;
ALTER TABLE nightshift.outputs ADD COLUMN removed_because text;
ALTER TABLE nightshift.outputs ADD CONSTRAINT outputs_removal_check CHECK ((removed_at IS NULL) = (removed_because IS NULL));

UPDATE nightshift.outputs o SET business_date = b.business_date FROM nightshift.batch_runs b WHERE b.id = o.batch_run_id;
UPDATE nightshift.outputs o SET job = j.job FROM nightshift.job_runs j WHERE j.id = o.job_run_id;

-- The files still kept, oldest business date first: what the retention pass reads.
CREATE INDEX outputs_kept ON nightshift.outputs (business_date, id) WHERE removed_at IS NULL AND kind <> 'summary_mail';
-- Dead letters, for `deliveries --state dead` and the dead-delivery alert.
CREATE INDEX deliveries_dead ON nightshift.deliveries (id) WHERE state = 'dead';

ALTER TABLE nightshift.audit DROP CONSTRAINT audit_outcome_check;
ALTER TABLE nightshift.audit ADD CONSTRAINT audit_outcome_check
    CHECK (outcome IN ('accepted', 'refused', 'approved', 'rejected', 'cancelled', 'expired', 'queued', 'finished',
                       'resolved', 'dismissed', 'retry_failed', 'listed', 'verified', 'restored', 'restore_failed', 'removed'));
