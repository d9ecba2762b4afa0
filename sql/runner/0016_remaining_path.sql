-- The remaining-path length behind each job run: the seconds of the longest chain of work in its
-- batch run that waits on it (NightShiftCore.RemainingPath), computed from the expected durations
-- when the batch run is created. Among ready jobs of the same aged priority, the dispatcher starts
-- the one with the longest (what is left of it + tail_seconds) first, as `plan` does.
ALTER TABLE nightshift.job_runs ADD COLUMN tail_seconds int NOT NULL DEFAULT 0 CHECK (tail_seconds >= 0);
