import Foundation
import NightShiftCore
import PostgresClient

/// Where the jobs of running batch runs (or of one batch run) stand, for a live progress display:
/// state, rows done of the expected total (the rows of the job's last successful run), rows per
/// second and ETA while it runs. Progress is what the runner wrote at its last checkpoint or
/// heartbeat (at most a heartbeat old).
public struct BatchProgress: Sendable, Equatable {
    public struct Job: Sendable, Equatable {
        public let jobRunID: Int
        public let batchRunID: Int
        public let batch: String
        public let job: String
        public let priority: Int
        public let state: JobState
        public let attempts: Int
        public let rows: Int
        public let expectedTotal: Int?
        public let rowsPerSecond: Double?
        public let etaSeconds: Double?
        /// Seconds from its first start to its end (or to now while it runs).
        public let seconds: Double
        public let detail: String?

        public var percent: Double? {
            guard let total = expectedTotal, total > 0 else { return nil }
            return min(100, Double(rows) * 100 / Double(total))
        }
    }

    public let jobs: [Job]

    /// A recorded change of a job's state (`nightshift.state_transitions`), with the job's rows and
    /// duration as they stand now.
    public struct Change: Sendable, Equatable {
        public let id: Int
        public let batch: String
        public let job: String
        public let priority: Int
        public let state: JobState
        public let reason: String?
        public let attempts: Int
        public let rows: Int
        public let seconds: Double
    }

    /// Job state changes recorded after transition `after` (of `batchRunID`, or of any batch run), oldest first.
    public static func changes(db: PostgresConnection, batchRunID: Int?, after: Int, limit: Int = 500) throws -> [Change] {
        let rows = try db.query("""
            SELECT t.id, b.batch, j.job, j.priority, t.to_state, t.reason, j.attempts, j.rows_processed,
                   coalesce(extract(epoch FROM j.finished_at - j.started_at), 0)::float8 AS seconds
            FROM nightshift.state_transitions t JOIN nightshift.job_runs j ON j.id = t.job_run_id JOIN nightshift.batch_runs b ON b.id = t.batch_run_id
            WHERE t.id > \(after) AND (\(batchRunID)::bigint IS NULL OR t.batch_run_id = \(batchRunID)::bigint)
            ORDER BY t.id LIMIT \(limit)
            """)
        // A change this NightShift cannot read is left out (`status` lists its row under "needs a look").
        return try rows.decode(of: "nightshift.state_transitions", unreadable: { _ in }) { row in
            Change(id: try row.int("id"), batch: try row.text("batch"), job: try row.text("job"),
                   priority: try row.int("priority"), state: try row.value("to_state", as: JobState.self), reason: try row.optionalText("reason"),
                   attempts: try row.optionalInt("attempts") ?? 0, rows: try row.optionalInt("rows_processed") ?? 0,
                   seconds: try row.optionalDouble("seconds") ?? 0)
        }
    }

    /// The newest recorded transition (where a watcher starts, so it shows only what happens next).
    public static func lastChange(db: PostgresConnection) throws -> Int {
        try db.query("SELECT coalesce(max(id), 0)::bigint FROM nightshift.state_transitions").int(0, 0) ?? 0
    }

    /// The jobs of `batchRunID`, or of every running batch run when nil, in batch and queue order.
    public static func load(db: PostgresConnection, batchRunID: Int?) throws -> BatchProgress {
        let rows = try db.query("""
            SELECT j.id, j.batch_run_id, b.batch, j.job, j.priority, j.state, j.attempts,
                   coalesce(CASE WHEN j.state = 'running' THEN j.progress_rows END, j.rows_processed) AS rows,
                   extract(epoch FROM j.progress_at - j.attempt_started_real)::float8 AS elapsed,
                   coalesce(extract(epoch FROM j.finished_at - j.started_at), 0)::float8 AS seconds,
                   coalesce(j.error_message, j.skip_reason, j.wait_reason) AS detail,
                   (SELECT p.rows_processed FROM nightshift.job_runs p
                    WHERE p.job = j.job AND p.state = ANY(\(JobState.successes)) AND p.id <> j.id
                    ORDER BY p.finished_at DESC NULLS LAST LIMIT 1) AS expected
            FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
            WHERE CASE WHEN \(batchRunID)::bigint IS NULL THEN b.state = 'running' ELSE b.id = \(batchRunID)::bigint END
            ORDER BY b.id, j.priority, j.id
            """)
        return BatchProgress(jobs: try rows.decode(of: "nightshift.job_runs", unreadable: { _ in }) { row in
            let state = try row.value("state", as: JobState.self)
            let done = try row.optionalInt("rows") ?? 0
            let expected = try row.optionalInt("expected")
            let elapsed = try row.optionalDouble("elapsed")
            let rate = state == .running ? elapsed.flatMap { $0 > 0.5 && done > 0 ? Double(done) / $0 : nil } : nil
            let eta = rate.flatMap { rate in expected.map { max(0, Double($0 - done) / rate) } }
            return Job(jobRunID: try row.int("id"), batchRunID: try row.int("batch_run_id"), batch: try row.text("batch"),
                       job: try row.text("job"), priority: try row.int("priority"), state: state, attempts: try row.optionalInt("attempts") ?? 0,
                       rows: done, expectedTotal: expected, rowsPerSecond: rate, etaSeconds: eta,
                       seconds: state == .running ? (elapsed ?? 0) : try row.optionalDouble("seconds") ?? 0,
                       detail: try row.optionalText("detail"))
        })
    }
}
