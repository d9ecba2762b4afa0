import Foundation
import NightShiftCore
import PostgresClient

/// `nightshift.job_log`: each job attempt's log lines (`JobLogLine`), written by the runner that
/// holds the attempt (`JobLog`) and read by `nightshift logs` and the console.
public struct JobLogStore {
    let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    /// Writes lines of one job run; a line already written (same attempt and seq) is kept as it was.
    func append(jobRunID: Int, _ lines: [JobLogLine]) throws {
        guard !lines.isEmpty else { return }
        try db.query("""
            INSERT INTO nightshift.job_log (job_run_id, attempt, seq, at, level, source, message)
            SELECT \(jobRunID), a, s, t, l, src, m
            FROM unnest(\(lines.map(\.attempt))::int[], \(lines.map(\.seq))::int[], \(lines.map(\.at))::timestamptz[],
                        \(lines.map(\.level.rawValue))::text[], \(lines.map(\.source.rawValue))::text[], \(lines.map(\.message))::text[])
                 AS l(a, s, t, l, src, m)
            ON CONFLICT (job_run_id, attempt, seq) DO NOTHING
            """)
    }

    /// A job run, as `logs` and the console name it.
    public struct JobRunRef: Sendable, Equatable {
        public let jobRunID: Int
        public let batchRunID: Int
        public let job: String
        public let batch: String
        public let businessDate: LocalDate
        public let state: JobState
        public let attempts: Int
    }

    /// The job run of `job` for the business date (its latest batch run that has the job), or the
    /// latest job run of `job` when no date is given; nil when there is none.
    public func jobRun(job: String, businessDate: LocalDate?) throws -> JobRunRef? {
        let result = try db.query("""
            SELECT j.id, j.batch_run_id, j.job, b.batch, b.business_date::text AS business_date, j.state, j.attempts
            FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
            WHERE j.job = \(job) AND (\(businessDate?.description)::date IS NULL OR b.business_date = \(businessDate?.description)::date)
            ORDER BY b.business_date DESC, j.id DESC LIMIT 1
            """)
        return try result.rows(of: "nightshift.job_runs").first.map(Self.jobRunRef)
    }

    /// A job run by its id; nil when there is none.
    public func jobRun(id: Int) throws -> JobRunRef? {
        let result = try db.query("""
            SELECT j.id, j.batch_run_id, j.job, b.batch, b.business_date::text AS business_date, j.state, j.attempts
            FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
            WHERE j.id = \(id)
            """)
        return try result.rows(of: "nightshift.job_runs").first.map(Self.jobRunRef)
    }

    private static func jobRunRef(_ row: Row) throws -> JobRunRef {
        let dateText = try row.text("business_date")
        guard let date = LocalDate(iso: dateText) else { throw row.error("business_date", dateText, expected: "a date YYYY-MM-DD") }
        return JobRunRef(jobRunID: try row.int("id"), batchRunID: try row.int("batch_run_id"), job: try row.text("job"),
                         batch: try row.text("batch"), businessDate: date, state: try row.value("state", as: JobState.self),
                         attempts: try row.int("attempts"))
    }

    /// Up to `limit` lines of a job run after the line (attempt, seq) given, in order; only one
    /// attempt's when `attempt` is given. Page through a long log by passing the last line read.
    public func lines(jobRunID: Int, attempt: Int? = nil, after: (attempt: Int, seq: Int) = (0, 0), limit: Int = 5_000) throws -> [JobLogLine] {
        let result = try db.query("""
            SELECT attempt, seq, extract(epoch FROM at)::float8 AS at, level, source, message,
                   attempt || '.' || seq AS id
            FROM nightshift.job_log
            WHERE job_run_id = \(jobRunID) AND (\(attempt)::int IS NULL OR attempt = \(attempt)::int)
              AND (attempt, seq) > (\(after.attempt), \(after.seq))
            ORDER BY attempt, seq LIMIT \(limit)
            """)
        return try result.rows(of: "nightshift.job_log").map { row in
            JobLogLine(attempt: try row.int("attempt"), seq: try row.int("seq"), at: try row.date("at"),
                       level: try row.value("level", as: JobLogLevel.self), source: try row.value("source", as: JobLogSource.self),
                       message: try row.text("message"))
        }
    }
}
