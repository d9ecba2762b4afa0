import Foundation
import Logging
import NightShiftConfig
import NightShiftCore
import PostgresClient

/// Everything one job attempt needs. `db` is a fresh connection owned by this attempt.
public struct JobContext {
    public let job: JobDefinition
    public let jobRunID: Int
    /// 1 for the first attempt of this job run, 2 for the next, …
    public let attempt: Int
    public let businessDate: LocalDate
    public let configuration: Configuration
    public let db: PostgresConnection
    public let logger: Logger
    /// Stop requests (shutdown, lost lease, deadline) and progress, shared with the runner.
    public let control: JobControl
    /// This attempt's lease, and how long a renewal lasts.
    let lease: Lease
    let leaseSeconds: Int
    /// The runner's clock (instants written by the job come from here).
    let clock: RunnerClock

    /// The bound run-time parameters every job transaction starts with (see `nightshift.business_date()`).
    var parameters: [(String, String)] {
        [("business_date", businessDate.description), ("time_zone", configuration.settings.timeZone.identifier)]
    }

    /// The one place a job may be interrupted: throws `JobStopped` when the runner asked the job
    /// to stop (shutdown, lost lease, deadline). Cheap: call it between chunks and rows batches.
    public func checkpoint() throws { try control.checkpoint() }

    /// Inside a transaction of the job's connection: proves this runner still holds the lease,
    /// renews it and records the progress, in the same transaction as the work it commits. When
    /// the lease is gone it throws `LeaseLost`, and the transaction's work is rolled back.
    public func fence(rows: Int? = nil) throws {
        let result = try db.query(renewal(rows: "\(rows)::bigint"))
        try fenced(leased: result.affectedRows == 1, pauseRequested: result.rowCount == 1 ? result.string(0, "pause_requested") : nil)
    }

    /// The fence as one UPDATE (`Lease.renewal`), for a statement that does more in the same round
    /// trip: `rows` is an SQL expression (NULL keeps the recorded progress); `from` may name a FROM
    /// item `rows` uses. Hand what it returned to `fenced`.
    func renewal(rows: SQL, from: SQL? = nil) -> SQL {
        lease.renewal(seconds: leaseSeconds, rows: rows, from: from)
    }

    /// What the fence found: throws `LeaseLost` when the lease is gone (the transaction's work is
    /// then rolled back); a pause asked for by a dispatcher lets this chunk commit and stops at the
    /// next checkpoint.
    func fenced(leased: Bool, pauseRequested: String?) throws {
        guard leased else {
            control.requestStop(.leaseLost)
            throw LeaseLost(lease: lease)
        }
        if let pause = pauseRequested { control.requestStop(.pause(pause)) }
    }
}

/// Runs one kind of job. Throws on failure; the runner classifies, records and retries.
public protocol JobExecutor {
    func execute(_ context: JobContext) throws -> JobOutcome
}

enum Executors {
    static func executor(for action: JobAction) -> JobExecutor {
        switch action {
        case let .aggregation(sql): AggregationExecutor(sqlFile: sql)
        case let .calculation(spec): CalculationExecutor(spec: spec)
        case let .export(spec): ExportExecutor(spec: spec)
        case let .report(spec): ReportExecutor(spec: spec)
        case let .archive(spec): ArchiveExecutor(spec: spec)
        }
    }
}
