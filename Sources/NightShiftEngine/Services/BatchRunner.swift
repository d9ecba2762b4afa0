import Foundation
import Logging
import NightShiftConfig
import NightShiftCore
import PostgresClient
import ServiceLifecycle

/// `run --once`: one occurrence of a batch, run to its end by this process with the same
/// machinery as the service (claims, leases, checkpoints, rescue).
///
/// The occurrence (batch, instant) is created if it does not exist. If another runner is running
/// it, this one joins: it takes only what is ready and not leased, so no job runs twice, and
/// waits for the batch to end. A finished occurrence is not run again unless `rerun` is set
/// (then it gets a new run number).
public final class BatchRunner: @unchecked Sendable {
    let configuration: Configuration
    let connect: () throws -> PostgresConnection
    let logger: Logger

    public init(configuration: Configuration, connect: @escaping () throws -> PostgresConnection, logger: Logger) {
        self.configuration = configuration
        self.connect = connect
        self.logger = logger
    }

    public enum Start: Equatable, Sendable {
        /// A new batch run was created and run.
        case created
        /// The occurrence was already running (another runner holds it); this one helped and waited.
        case joined(heldBy: [String])
        /// The occurrence had already ended and `rerun` was not asked for: nothing was run.
        case alreadyEnded
    }

    /// Runs `batch` for `instant` on a clock starting at `instant` (at `speed`), to its end, with
    /// the `alongside` services (signals) in the runner's service group.
    public func run(batch: BatchKind, at instant: Date, trigger: String, rerun: Bool = false, speed: Double = 1,
                    until: Date? = nil, identity: RunnerIdentity = RunnerIdentity(), alongside: [any Service] = [],
                    onRunner: (Runner) -> Void = { _ in }) async throws -> (report: BatchReport, start: Start) {
        let occurrence: Occurrence = try await onThread("nightshift-occurrence") { [self] in
            try self.occurrence(batch: batch, at: instant, trigger: trigger, rerun: rerun, identity: identity)
        }
        let id: Int
        let start: Start
        switch occurrence {
        case let .ended(report): return (report, .alreadyEnded)
        case let .toRun(runID, how):
            id = runID
            start = how
        }
        let runner = Runner(configuration: configuration, connect: connect, clock: RunnerClock(start: instant, speed: speed),
                            identity: identity, logger: logger, mode: .once(batchRunID: id), until: until)
        onRunner(runner)
        try await runner.run(alongside: alongside)
        let report = try await onThread("nightshift-report") { [self] in
            let db = try connect()
            defer { db.close() }
            return try BatchReport.load(id, db: db)
        }
        return (report, start)
    }

    private enum Occurrence: Sendable {
        case toRun(Int, Start)
        case ended(BatchReport)
    }

    /// Creates the occurrence, or finds it: running (joined), or ended (its report).
    private func occurrence(batch: BatchKind, at instant: Date, trigger: String, rerun: Bool, identity: RunnerIdentity) throws -> Occurrence {
        guard !configuration.jobs(in: batch).isEmpty else {
            throw NoJobs(batch: batch, jobsDirectory: configuration.settings.jobsDirectory)
        }
        let db = try connect()
        defer { db.close() }
        let creation = try OccurrenceFactory(configuration: configuration, db: db)
            .create(batch: batch, at: instant, trigger: trigger, now: instant, runner: identity.id, rerun: rerun)
        switch creation {
        case let .created(newID):
            return .toRun(newID, .created)
        case let .exists(existing, state, runNumber):
            let summarised = try RunnerStore(db: db).batchStatus(existing)?.summaryWritten ?? false
            if state != .running && summarised {
                logger.notice("the occurrence already ran", metadata: ["batch_run": "\(existing)", "run_number": "\(runNumber)",
                                                                       "state": "\(state.rawValue)"])
                return .ended(try BatchReport.load(existing, db: db))
            }
            // Ended but not summarised (its runner died after closing it): the runner below writes the summary.
            let holders = try db.query("""
                SELECT DISTINCT lease_owner FROM nightshift.job_runs WHERE batch_run_id = \(existing) AND state = 'running' ORDER BY 1
                """)
            let owners = (0..<holders.rowCount).compactMap { holders.string($0, 0) }
            logger.notice("the occurrence is already running; joining it: only jobs that are ready and not leased run here",
                          metadata: ["batch_run": "\(existing)", "held_by": "\(owners.joined(separator: ", "))"])
            return .toRun(existing, .joined(heldBy: owners))
        }
    }
}

/// A batch with no jobs has nothing to run: said, not reported as SUCCEEDED.
public struct NoJobs: Error, CustomStringConvertible {
    public let batch: BatchKind
    public let jobsDirectory: String
    public var description: String {
        "the \(batch.rawValue) batch has no jobs: no file in \(jobsDirectory) says `batch: \(batch.rawValue)`; add one, or run another batch"
    }
}
