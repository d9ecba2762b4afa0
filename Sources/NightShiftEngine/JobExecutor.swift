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
        let result = try db.execute(fenceStatement(first: 1, rows: "$5::bigint"), fenceParameters + [rows.map(String.init)])
        try fenced(leased: result.affectedRows == 1, pauseRequested: result.rowCount == 1 ? result.string(0, "pause_requested") : nil)
    }

    /// The fence as one UPDATE, for a statement that does more in the same round trip: its
    /// parameters are `fenceParameters` from `$first` on; `rows` is a SQL expression (NULL keeps
    /// the recorded progress); `from` may name a FROM item `rows` uses. Hand what it returned to
    /// `fenced`.
    func fenceStatement(first p: Int, rows: String, from: String? = nil) -> String {
        """
        UPDATE nightshift.job_runs SET lease_expires_at = clock_timestamp() + make_interval(secs => $\(p + 2)::int),
            progress_rows = coalesce(\(rows), progress_rows), progress_at = clock_timestamp()
        \(from.map { "FROM \($0)" } ?? "")
        WHERE id = $\(p) AND lease_owner = $\(p + 1) AND state = 'running' AND attempts = $\(p + 3)
        RETURNING pause_requested
        """
    }

    var fenceParameters: [String?] { [String(jobRunID), lease.owner, String(leaseSeconds), String(lease.attempt)] }

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
