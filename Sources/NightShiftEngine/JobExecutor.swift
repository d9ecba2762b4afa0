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
        let result = try db.execute("""
            UPDATE nightshift.job_runs SET lease_expires_at = clock_timestamp() + make_interval(secs => $3::int),
                progress_rows = coalesce($4::bigint, progress_rows), progress_at = clock_timestamp()
            WHERE id = $1 AND lease_owner = $2 AND state = 'running' AND attempts = $5
            RETURNING pause_requested
            """, [String(jobRunID), lease.owner, String(leaseSeconds), rows.map(String.init), String(lease.attempt)])
        guard result.affectedRows == 1 else {
            control.requestStop(.leaseLost)
            throw LeaseLost(lease: lease)
        }
        // A pause asked for by a dispatcher: this chunk commits, the next checkpoint stops.
        if let pause = result.string(0, "pause_requested") { control.requestStop(.pause(pause)) }
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
