import Foundation
import NightShiftCore
import NightShiftMail
import PostgresClient

/// Batch runs after their jobs: blocked jobs skipped, finished runs closed (exactly one runner
/// closes each), summaries written once, outputs and warnings recorded.
extension RunnerStore {
    /// Skips the waiting jobs that can no longer run: a dependency failed, timed out or was
    /// skipped (not by an override), or their batch's window ended before they started.
    /// Repeats until nothing changes, so a skip travels down a chain. Returns how many it skipped.
    @discardableResult
    public func skipBlockedJobs(now: Date, runner: String) throws -> Int {
        let waiting = JobState.movable(to: .skipped)
        var total = 0
        while true {
            // Driven from the few jobs that block (failed, timed out, skipped) and the batches
            // past their window, not by probing every waiting job.
            let result = try db.query("""
                WITH by_dependency AS (
                    SELECT DISTINCT ON (j.id) j.id, 'dependency ' || d.job || ' ' || d.state AS reason
                    FROM nightshift.batch_runs b
                    JOIN nightshift.job_runs d ON d.batch_run_id = b.id
                        AND (d.state = ANY(\(JobState.failures)) OR (d.state = \(JobState.skipped) AND NOT d.skipped_by_override))
                    JOIN nightshift.job_runs j ON j.batch_run_id = b.id AND d.job = ANY (j.depends_on) AND j.state = ANY(\(waiting))
                    WHERE b.state = \(BatchState.running)
                    ORDER BY j.id, d.job
                ), by_window AS (
                    SELECT j.id, 'batch window ended at ' || to_char(b.deadline AT TIME ZONE \(zone.identifier), 'YYYY-MM-DD HH24:MI')
                           || CASE WHEN j.state = \(JobState.paused) THEN ' before it could resume' ELSE ' before it could start' END AS reason
                    FROM nightshift.batch_runs b JOIN nightshift.job_runs j ON j.batch_run_id = b.id AND j.state = ANY(\(waiting))
                    WHERE b.state = \(BatchState.running) AND b.deadline <= \(now)::timestamptz
                ), blocked AS (
                    SELECT j.id, j.batch_run_id, j.state AS from_state, coalesce(dep.reason, win.reason) AS reason
                    FROM nightshift.job_runs j
                    LEFT JOIN by_dependency dep ON dep.id = j.id LEFT JOIN by_window win ON win.id = j.id
                    WHERE j.id IN (SELECT id FROM by_dependency UNION SELECT id FROM by_window) AND j.state = ANY(\(waiting))
                    FOR UPDATE OF j SKIP LOCKED
                ), moved AS (
                    UPDATE nightshift.job_runs j SET state = \(JobState.skipped), skip_reason = blocked.reason, finished_at = \(now)::timestamptz,
                        not_before = NULL
                    FROM blocked WHERE j.id = blocked.id
                    RETURNING j.id, j.batch_run_id, blocked.from_state, blocked.reason
                )
                INSERT INTO nightshift.state_transitions (batch_run_id, job_run_id, from_state, to_state, reason, at, runner)
                SELECT batch_run_id, id, from_state, \(JobState.skipped), reason, \(now)::timestamptz, \(runner) FROM moved
                """)
            let n = result.affectedRows
            total += n
            if n == 0 { return total }
        }
    }

    /// Closes every running batch whose jobs have all reached a final state (a conditional
    /// update: exactly one runner closes each). Returns the ids closed.
    @discardableResult
    public func closeFinishedBatches(now: Date, runner: String) throws -> [Int] {
        let result = try db.query("""
            WITH done AS (
                SELECT b.id,
                       count(*) FILTER (WHERE j.state = ANY(\(JobState.successes))) AS succeeded,
                       count(*) FILTER (WHERE j.state = ANY(\(JobState.failures))) AS failed,
                       count(*) FILTER (WHERE j.state = \(JobState.skipped)) AS skipped,
                       count(*) FILTER (WHERE j.state = \(JobState.skipped) AND NOT j.skipped_by_override) AS blocking_skips,
                       count(j.id) AS total
                FROM nightshift.batch_runs b LEFT JOIN nightshift.job_runs j ON j.batch_run_id = b.id
                WHERE b.state = \(BatchState.running)
                GROUP BY b.id
                HAVING count(*) FILTER (WHERE j.state = ANY(\(JobState.open))) = 0
            ), closed AS (
                UPDATE nightshift.batch_runs b SET
                    state = CASE WHEN done.failed + done.blocking_skips = 0 AND done.total > 0 THEN \(BatchState.succeeded) ELSE \(BatchState.failed) END,
                    finished_at = \(now)::timestamptz, closed_by = \(runner),
                    jobs_total = done.total, jobs_succeeded = done.succeeded, jobs_failed = done.failed, jobs_skipped = done.skipped
                FROM done WHERE b.id = done.id AND b.state = \(BatchState.running)
                RETURNING b.id, b.state, done.succeeded, done.failed, done.skipped
            ), recorded AS (
                INSERT INTO nightshift.state_transitions (batch_run_id, from_state, to_state, reason, at, runner)
                SELECT id, \(BatchState.running), state, succeeded || ' succeeded, ' || failed || ' failed or timed out, ' || skipped || ' skipped',
                       \(now)::timestamptz, \(runner) FROM closed
            )
            SELECT id FROM closed ORDER BY id
            """)
        return try result.decode(of: "nightshift.batch_runs") { try $0.int("id") }
    }

    /// Closed batches whose summary is not written yet, oldest first.
    public func dueSummaries(limit: Int = 20) throws -> [Int] {
        let due = try db.query("""
            SELECT id FROM nightshift.batch_runs WHERE state <> \(BatchState.running) AND summary_at IS NULL ORDER BY id LIMIT \(limit)
            """)
        return try due.decode(of: "nightshift.batch_runs") { try $0.int("id") }
    }

    /// Claims batch run `id`'s summary (FOR UPDATE SKIP LOCKED: one runner at a time), lets
    /// `write` produce it, and records it and queues its message in the outbox in the same
    /// transaction. False when another runner has it or it is written already. A failure is
    /// recorded on the batch run and rethrown.
    public func writeSummary(_ id: Int, now: Date, runner: String, _ write: (Int) throws -> (output: JobOutput, message: MailMessage?)) throws -> Bool {
        do {
            return try db.transaction {
                let due = try db.query("""
                    SELECT id FROM nightshift.batch_runs WHERE id = \(id) AND state <> \(BatchState.running) AND summary_at IS NULL
                    FOR UPDATE SKIP LOCKED
                    """)
                guard due.rowCount == 1 else { return false }
                let (output, message) = try write(id)
                try recordOutput(batchRunID: id, jobRunID: nil, output: output)
                if let message {
                    try OutboxStore(db: db).enqueue(kind: "summary", dedupeKey: "summary:batch_run:\(id)", batchRunID: id, message: message,
                                                    now: now, by: runner)
                }
                try db.query("UPDATE nightshift.batch_runs SET summary_at = clock_timestamp(), summary_error = NULL WHERE id = \(id)")
                return true
            }
        } catch let error as PostgresError where error.isTransient {
            throw error
        } catch {
            _ = try? db.query("UPDATE nightshift.batch_runs SET summary_error = \("\(error)") WHERE id = \(id)")
            throw error
        }
    }

    /// The state of a batch run, whether its summary is written, and why it could not be.
    public func batchStatus(_ id: Int) throws -> (state: BatchState, summaryWritten: Bool, summaryError: String?)? {
        let result = try db.query("""
            SELECT id, state, summary_at IS NOT NULL AS written, summary_error FROM nightshift.batch_runs WHERE id = \(id)
            """)
        guard result.rowCount == 1 else { return nil }
        let row = result.row(0, of: "nightshift.batch_runs")
        return (try row.value("state", as: BatchState.self), try row.bool("written"), try row.optionalText("summary_error"))
    }

    /// Records an output; returns its id.
    @discardableResult
    public func recordOutput(batchRunID: Int, jobRunID: Int?, output: JobOutput) throws -> Int {
        try db.query("""
            INSERT INTO nightshift.outputs (batch_run_id, job_run_id, kind, path, sha256, bytes, rows, job, business_date)
            SELECT \(batchRunID), \(jobRunID)::bigint, \(output.kind.rawValue), \(output.path), \(output.sha256), \(output.bytes), \(output.rows),
                   (SELECT j.job FROM nightshift.job_runs j WHERE j.id = \(jobRunID)::bigint), b.business_date
            FROM nightshift.batch_runs b WHERE b.id = \(batchRunID)
            RETURNING id
            """).scalarInt(of: "nightshift.outputs")
    }

    /// Appends a warning to a batch run once (the summary and `status` show them).
    public func addWarning(batchRunID: Int, _ warning: String) throws {
        try db.query("""
            UPDATE nightshift.batch_runs SET warnings = array_append(warnings, \(warning)::text)
            WHERE id = \(batchRunID) AND NOT (\(warning)::text = ANY (warnings))
            """)
    }
}
