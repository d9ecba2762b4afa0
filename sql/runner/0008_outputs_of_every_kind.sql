-- Outputs of every kind: an export's archives (one per part), its manifest and the manifest's
-- detached signature; report files; archive jobs' encrypted archives.
ALTER TABLE nightshift.outputs DROP CONSTRAINT outputs_kind_check;
ALTER TABLE nightshift.outputs ADD CONSTRAINT outputs_kind_check
    CHECK (kind IN ('export', 'manifest', 'signature', 'report', 'archive', 'summary_mail'));
