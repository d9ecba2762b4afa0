import Foundation
import Logging
import NightShiftConfig
import NightShiftCore
import PostgresClient

/// Runs one batch (daily, weekly, …) for the instant it is asked about: plans the jobs in
/// dependency order, runs each on its own connection with retries for transient failures, skips
/// the dependents of a job that did not succeed (independent jobs still run), records every
/// transition, and writes the summary message.
///
/// Synchronous by design: libpq blocks, so the runner calls it on a thread of its own (the CLI's
/// main thread), never on Swift's cooperative pool.
public final class BatchRunner {
    public typealias Connector = () throws -> PostgresConnection

    let configuration: Configuration
    let connect: Connector
    let logger: Logger
    let sleep: (Int) -> Void

    public init(configuration: Configuration, connect: @escaping Connector, logger: Logger,
                sleep: @escaping (Int) -> Void = { seconds in Thread.sleep(forTimeInterval: TimeInterval(seconds)) }) {
        self.configuration = configuration
        self.connect = connect
        self.logger = logger
        self.sleep = sleep
    }

    public struct JobReport: Sendable {
        public let job: JobDefinition
        public let jobRunID: Int
        public let state: JobState
        public let rows: Int
        public let attempts: Int
        public let seconds: Double
        public let failure: JobFailure?
        public let skipReason: String?
        public let outputs: [JobOutput]
        public internal(set) var note: String?
    }

    public struct Report: Sendable {
        public let batchRunID: Int
        public let batch: BatchKind
        public let businessDate: LocalDate
        public let scheduledFor: Date
        public let state: BatchState
        public let jobs: [JobReport]
        public internal(set) var summary: JobOutput?
        public internal(set) var summaryError: String?
        public let startedAt: Date
        public let finishedAt: Date
        public internal(set) var warnings: [String] = []

        public var succeeded: Bool { state == .succeeded }
    }

    /// Runs `batch` as if the clock read `instant`.
    public func run(batch: BatchKind, at instant: Date, trigger: String) throws -> Report {
        let startedAt = Date()
        let settings = configuration.settings
        let businessDate = batch.businessDate(at: instant, in: settings.timeZone)
        let storeConnection = try connect()
        defer { storeConnection.close() }
        let store = RunnerStore(db: storeConnection)

        // Operators' overrides for this run: skips, and dependencies not to wait for.
        let overrides = try OverrideStore(db: storeConnection).overrides(batch: batch, businessDate: businessDate)
        let applied = AppliedOverrides(jobs: configuration.jobs(in: batch), overrides: overrides.map(\.override))
        let plan = try DependencyGraph(applied.jobs).order()
        var warnings = configuration.calendarCoverageWarnings(from: instant, days: 0)
        for warning in warnings { logger.warning("\(warning)") }
        let batchRunID = try store.createBatchRun(batch: batch, businessDate: businessDate, scheduledFor: instant, trigger: trigger)
        logger.info("batch started", metadata: ["batch": "\(batch.rawValue)", "business_date": "\(businessDate)",
                                                "batch_run": "\(batchRunID)", "jobs": "\(plan.count)"])
        var runIDs: [String: Int] = [:]
        for job in plan { runIDs[job.name] = try store.createJobRun(batchRunID: batchRunID, job: job) }
        for entry in overrides {
            if let jobRunID = runIDs[entry.override.job] {
                try OverrideStore(db: storeConnection).markApplied(overrideID: entry.id, jobRunID: jobRunID)
            }
        }
        warnings += applied.unknown.map { "override for \($0.job), which is not a \(batch.rawValue) job, was ignored (\($0.summary))" }

        var reports: [String: JobReport] = [:]
        func skip(_ job: JobDefinition, _ jobRunID: Int, because reason: String) throws {
            try store.moveJob(batchRunID: batchRunID, jobRunID: jobRunID, from: .pending, to: .skipped, reason: reason,
                              update: .init(skipReason: reason))
            logger.warning("job skipped", metadata: ["job": "\(job.name)", "reason": "\(reason)"])
            reports[job.name] = JobReport(job: job, jobRunID: jobRunID, state: .skipped, rows: 0, attempts: 0, seconds: 0,
                                          failure: nil, skipReason: reason, outputs: [], note: nil)
        }
        for job in plan {
            let jobRunID = runIDs[job.name]!
            let jobOverrides = applied.byJob[job.name] ?? []
            if let override = jobOverrides.first(where: { $0.action == .skip }) {
                try skip(job, jobRunID, because: override.summary)
                continue
            }
            // A job skipped by an override counts as done for its dependents.
            if let blocker = job.dependsOn.sorted().first(where: { reports[$0]?.state != .succeeded && !applied.skipped.contains($0) }) {
                try skip(job, jobRunID, because: "dependency \(blocker) \(reports[blocker]?.state.rawValue ?? "did not run")")
                continue
            }
            var report = try runJob(job, jobRunID: jobRunID, batchRunID: batchRunID, businessDate: businessDate, store: store)
            let notes = jobOverrides.map(\.summary)
            if !notes.isEmpty { report.note = ([report.note].compactMap { $0 } + notes).joined(separator: "; ") }
            reports[job.name] = report
        }

        let ordered = plan.map { reports[$0.name]! }
        let failed = ordered.filter { $0.state == .failed }.count
        let skipped = ordered.filter { $0.state == .skipped }.count
        let skippedByOverride = ordered.filter { $0.state == .skipped && applied.skipped.contains($0.job.name) }.count
        let succeeded = ordered.count - failed - skipped
        let state: BatchState = failed + skipped - skippedByOverride == 0 ? .succeeded : .failed
        try store.finishBatch(batchRunID: batchRunID, state: state, succeeded: succeeded, failed: failed, skipped: skipped,
                              total: ordered.count)
        var report = Report(batchRunID: batchRunID, batch: batch, businessDate: businessDate, scheduledFor: instant, state: state,
                            jobs: ordered, summary: nil, summaryError: nil, startedAt: startedAt, finishedAt: Date())

        report.warnings = warnings
        // The summary is written after the batch is closed, so it tells the final state. A failure
        // to write it is reported, not hidden, and does not undo the batch.
        do {
            let summary = try SummaryMail(configuration: configuration).write(report)
            try store.recordOutput(batchRunID: batchRunID, jobRunID: nil, output: summary)
            report.summary = summary
        } catch {
            report.summaryError = "\(error)"
        }
        logger.info("batch finished", metadata: ["batch_run": "\(batchRunID)", "state": "\(state.rawValue)",
                                                 "succeeded": "\(succeeded)", "failed": "\(failed)", "skipped": "\(skipped)"])
        return report
    }

    private func runJob(_ job: JobDefinition, jobRunID: Int, batchRunID: Int, businessDate: LocalDate,
                        store: RunnerStore) throws -> JobReport {
        let executor = Executors.executor(for: job.action)
        let started = Date()
        var attempt = 0
        var from = JobState.pending
        while true {
            attempt += 1
            try store.moveJob(batchRunID: batchRunID, jobRunID: jobRunID, from: from, to: .running,
                              reason: attempt == 1 ? "dependencies satisfied" : "retry \(attempt - 1)",
                              update: .init(countAttempt: true))
            logger.info("job started", metadata: ["job": "\(job.name)", "attempt": "\(attempt)"])
            do {
                let db = try connect()
                defer { db.close() }
                let outcome = try executor.execute(JobContext(job: job, jobRunID: jobRunID, businessDate: businessDate,
                                                              configuration: configuration, db: db, logger: logger))
                for output in outcome.outputs { try store.recordOutput(batchRunID: batchRunID, jobRunID: jobRunID, output: output) }
                try store.moveJob(batchRunID: batchRunID, jobRunID: jobRunID, from: .running, to: .succeeded,
                                  reason: outcome.note ?? "\(outcome.rows) rows", update: .init(rows: outcome.rows))
                let seconds = Date().timeIntervalSince(started)
                logger.info("job succeeded", metadata: ["job": "\(job.name)", "rows": "\(outcome.rows)",
                                                        "seconds": "\(String(format: "%.2f", seconds))"])
                return JobReport(job: job, jobRunID: jobRunID, state: .succeeded, rows: outcome.rows, attempts: attempt,
                                 seconds: seconds, failure: nil, skipReason: nil, outputs: outcome.outputs, note: outcome.note)
            } catch {
                let failure = JobFailure.classify(error)
                let decision = RetryDecision.after(failure.failureClass, attempt: attempt, retries: job.retries,
                                                   baseDelay: configuration.settings.retryDelaySeconds)
                switch decision {
                case let .retry(delay):
                    logger.warning("job attempt failed; retrying", metadata: ["job": "\(job.name)", "attempt": "\(attempt)",
                                                                              "in_seconds": "\(delay)", "error": "\(failure)"])
                    try store.moveJob(batchRunID: batchRunID, jobRunID: jobRunID, from: .running, to: .retrying,
                                      reason: "\(failure.description); retry in \(delay) s", update: .init(failure: failure))
                    sleep(delay)
                    from = .retrying
                case let .giveUp(reason):
                    logger.error("job failed", metadata: ["job": "\(job.name)", "error": "\(failure)"])
                    try store.moveJob(batchRunID: batchRunID, jobRunID: jobRunID, from: .running, to: .failed,
                                      reason: reason, update: .init(rows: 0, failure: failure))
                    return JobReport(job: job, jobRunID: jobRunID, state: .failed, rows: 0, attempts: attempt,
                                     seconds: Date().timeIntervalSince(started), failure: failure, skipReason: nil,
                                     outputs: [], note: nil)
                }
            }
        }
    }
}
