import Foundation
import NightShiftCore
import PostgresClient

/// The runner's own tables (`nightshift.*`). Every batch and job state change goes through here
/// and is recorded in `state_transitions` in the same transaction as the new state.
///
/// Uses its own connection, separate from the jobs' work, so bookkeeping commits at once and
/// survives a job's rollback.
public final class RunnerStore {
    let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    public func createBatchRun(batch: BatchKind, businessDate: LocalDate, scheduledFor: Date, trigger: String) throws -> Int {
        try db.transaction {
            let result = try db.execute("""
                INSERT INTO nightshift.batch_runs (batch, business_date, scheduled_for, trigger, state)
                VALUES ($1, $2, $3, $4, 'running') RETURNING id
                """, [batch.rawValue, businessDate.description, iso8601(scheduledFor), trigger])
            let id = result.int(0, "id")!
            try db.execute("INSERT INTO nightshift.state_transitions (batch_run_id, to_state, reason) VALUES ($1, 'running', $2)",
                           [String(id), "started by \(trigger)"])
            return id
        }
    }

    public func createJobRun(batchRunID: Int, job: JobDefinition) throws -> Int {
        try db.transaction {
            let result = try db.execute("""
                INSERT INTO nightshift.job_runs (batch_run_id, job, kind, priority, state)
                VALUES ($1, $2, $3, $4, 'pending') RETURNING id
                """, [String(batchRunID), job.name, job.kind.rawValue, String(job.priority.rawValue)])
            let id = result.int(0, "id")!
            try db.execute("""
                INSERT INTO nightshift.state_transitions (batch_run_id, job_run_id, to_state, reason)
                VALUES ($1, $2, 'pending', 'planned')
                """, [String(batchRunID), String(id)])
            return id
        }
    }

    /// Fields written together with a job's new state.
    public struct JobUpdate {
        public var rows: Int?
        public var failure: JobFailure?
        public var skipReason: String?
        public var countAttempt = false
        public init(rows: Int? = nil, failure: JobFailure? = nil, skipReason: String? = nil, countAttempt: Bool = false) {
            self.rows = rows
            self.failure = failure
            self.skipReason = skipReason
            self.countAttempt = countAttempt
        }
    }

    /// Moves a job run from `from` to `to`, refusing illegal moves, and records the transition.
    public func moveJob(batchRunID: Int, jobRunID: Int, from: JobState, to: JobState, reason: String?,
                        update: JobUpdate = JobUpdate()) throws {
        precondition(from.canMove(to: to), "illegal job transition \(from) → \(to)")
        try db.transaction {
            let result = try db.execute("""
                UPDATE nightshift.job_runs SET
                    state = $2,
                    attempts = attempts + CASE WHEN $3 THEN 1 ELSE 0 END,
                    started_at = CASE WHEN $2 = 'running' AND started_at IS NULL THEN clock_timestamp() ELSE started_at END,
                    finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'skipped') THEN clock_timestamp() ELSE finished_at END,
                    rows_processed = coalesce($4::bigint, rows_processed),
                    error_class = coalesce($5, error_class),
                    error_sqlstate = coalesce($6, error_sqlstate),
                    error_message = coalesce($7, error_message),
                    skip_reason = coalesce($8, skip_reason)
                WHERE id = $1 AND state = $9
                """, [String(jobRunID), to.rawValue, update.countAttempt ? "true" : "false", update.rows.map(String.init),
                      update.failure?.failureClass.rawValue, update.failure?.sqlState, update.failure?.message,
                      update.skipReason, from.rawValue])
            guard result.affectedRows == 1 else {
                throw PostgresError(operation: .execute, sqlState: nil,
                                    message: "job run \(jobRunID) is not in state \(from.rawValue); refusing to move it to \(to.rawValue)",
                                    context: "nightshift.job_runs")
            }
            try db.execute("""
                INSERT INTO nightshift.state_transitions (batch_run_id, job_run_id, from_state, to_state, reason)
                VALUES ($1, $2, $3, $4, $5)
                """, [String(batchRunID), String(jobRunID), from.rawValue, to.rawValue, reason])
        }
    }

    public func finishBatch(batchRunID: Int, state: BatchState, succeeded: Int, failed: Int, skipped: Int, total: Int) throws {
        precondition(BatchState.running.canMove(to: state))
        try db.transaction {
            try db.execute("""
                UPDATE nightshift.batch_runs SET state = $2, finished_at = clock_timestamp(),
                    jobs_total = $3, jobs_succeeded = $4, jobs_failed = $5, jobs_skipped = $6
                WHERE id = $1 AND state = 'running'
                """, [String(batchRunID), state.rawValue, String(total), String(succeeded), String(failed), String(skipped)])
            try db.execute("""
                INSERT INTO nightshift.state_transitions (batch_run_id, from_state, to_state, reason)
                VALUES ($1, 'running', $2, $3)
                """, [String(batchRunID), state.rawValue, "\(succeeded) succeeded, \(failed) failed, \(skipped) skipped"])
        }
    }

    public func recordOutput(batchRunID: Int, jobRunID: Int?, output: JobOutput) throws {
        try db.execute("""
            INSERT INTO nightshift.outputs (batch_run_id, job_run_id, kind, path, sha256, bytes, rows)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, [String(batchRunID), jobRunID.map(String.init), output.kind.rawValue, output.path, output.sha256,
                  String(output.bytes), output.rows.map(String.init)])
    }
}

func iso8601(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: date)
}
