import Foundation
import Logging
import NightShiftConfig
import NightShiftCore
import Packaging
import PostgresClient

/// The workers: `count` dedicated threads (libpq blocks), each running one claimed job at a time
/// on a connection of its own, and recording how the attempt ended with fenced writes.
final class Workers: @unchecked Sendable {
    private let context: RunnerContext
    private let condition = NSCondition()
    private var queue: [RunnerStore.ClaimedJob] = []
    private var controls: [LeaseKey: JobControl] = [:]
    private var busy = 0
    private var stopping = false
    private var threads: [Thread] = []
    private var exited = 0
    let count: Int
    /// Called after a job's attempt ended (wakes the dispatcher and the rescuer).
    var onJobEnded: () -> Void = {}
    /// Claims up to n ready jobs on the given connection (the dispatcher's claim): a worker that
    /// finished a job claims its next one at once.
    var claimNext: (PostgresConnection, Int) throws -> [RunnerStore.ClaimedJob] = { _, _ in [] }

    init(count: Int, context: RunnerContext) {
        self.count = count
        self.context = context
    }

    func start() {
        for index in 0..<count {
            let thread = Thread { [self] in work() }
            thread.name = "nightshift-worker-\(index + 1)"
            thread.stackSize = 8 << 20
            threads.append(thread)
            thread.start()
        }
    }

    /// Workers with nothing to do (what the dispatcher may claim).
    var idleCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return stopping ? 0 : count - busy - queue.count
    }

    /// The jobs running here, with their controls (for the heartbeat).
    var running: [LeaseKey: JobControl] {
        condition.lock()
        defer { condition.unlock() }
        return controls
    }

    func submit(_ job: RunnerStore.ClaimedJob) {
        let control = JobControl(deadline: job.deadline, deadlineReason: job.deadlineReason, clock: context.clock)
        condition.lock()
        controls[job.lease.key] = control
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Asks every running job to stop at its next checkpoint and release itself; takes no more.
    func stopAll() {
        condition.lock()
        stopping = true
        let all = controls
        condition.broadcast()
        condition.unlock()
        for control in all.values { control.requestStop(.shutdown) }
    }

    /// Waits until every worker thread has ended (after `stopAll`).
    func join() {
        condition.lock()
        while exited < threads.count { condition.wait() }
        condition.unlock()
    }

    private func work() {
        let bookkeeping = ConnectionKeeper(connect: context.connect)
        let jobs = ConnectionKeeper(connect: context.connect)
        defer {
            bookkeeping.close()
            jobs.close()
        }
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping {
                exited += 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let job = queue.removeFirst()
            let control = controls[job.lease.key]!
            busy += 1
            condition.unlock()
            if stopping { control.requestStop(.shutdown) }

            run(job, control: control, connection: jobs, bookkeeping: bookkeeping)
            claimNextJob(bookkeeping: bookkeeping)

            condition.lock()
            busy -= 1
            controls[job.lease.key] = nil
            condition.broadcast()
            condition.unlock()
            onJobEnded()
        }
    }

    /// While this worker still counts as busy (so the dispatcher cannot claim its slot too),
    /// claims the next ready job into the queue. A failure is left to the dispatcher's loop.
    private func claimNextJob(bookkeeping: ConnectionKeeper) {
        condition.lock()
        let take = !stopping && queue.isEmpty
        condition.unlock()
        guard take else { return }
        guard let claimed = try? bookkeeping.use({ db in try claimNext(db, 1) }) else { return }
        for job in claimed { submit(job) }
    }

    // MARK: one attempt

    /// The job runs on the worker's job connection, kept from job to job and reset with
    /// `DISCARD ALL` (session settings, temporary tables, advisory locks) after a clean end; a job
    /// that failed or was stopped leaves it closed, and the next job opens a fresh one.
    private func run(_ claimed: RunnerStore.ClaimedJob, control: JobControl, connection: ConnectionKeeper,
                     bookkeeping: ConnectionKeeper) {
        let logger = context.logger
        let result: Result<JobOutcome, Error>
        let started = Date()
        let definition = context.configuration.jobs.first(where: { $0.name == claimed.job && $0.batch == claimed.batch })
        if let job = definition {
            logger.info("job started", metadata: ["job": "\(claimed.job)", "job_run": "\(claimed.jobRunID)", "attempt": "\(claimed.attempt)"])
            result = Result {
                try connection.use { db in
                    control.attach(db)
                    defer { control.attach(nil) }
                    do {
                        let outcome = try execute(job, claimed, control: control, db: db)
                        // The outcome stands whatever the reset does: a connection that cannot be reset is not kept.
                        if (try? db.query("DISCARD ALL")) == nil { db.close() }
                        return outcome
                    } catch {
                        db.close()
                        throw error
                    }
                }
            }
        } else {
            result = .failure(JobFailure(failureClass: .permanent, sqlState: nil,
                                         message: "job \(claimed.job) is not in this runner's configuration (jobs/\(claimed.job).yaml was removed or renamed since the batch was planned)"))
        }
        if let state = record(claimed, control: control, result: result, bookkeeping: bookkeeping) {
            let outcome = try? result.get()
            RunnerMetrics.attemptEnded(job: claimed.job, priority: definition?.priority, state: state, seconds: Date().timeIntervalSince(started),
                                       rows: outcome?.rows ?? 0, rejects: outcome?.rejects ?? 0)
        }
    }

    private func execute(_ job: JobDefinition, _ claimed: RunnerStore.ClaimedJob, control: JobControl,
                         db: PostgresConnection) throws -> JobOutcome {
        let jobContext = JobContext(job: job, jobRunID: claimed.jobRunID, attempt: claimed.attempt,
                                    businessDate: claimed.businessDate, configuration: context.configuration, db: db,
                                    logger: context.logger, control: control, lease: claimed.lease,
                                    leaseSeconds: context.settings.leaseSeconds, clock: context.clock)
        return try Executors.executor(for: job.action).execute(jobContext)
    }

    /// Records how the attempt ended. Bookkeeping survives database outages: it is retried with
    /// back-off until it is written, or until the lease is known to be lost (then another runner
    /// owns the job and nothing is written).
    /// - Returns: the state written, nil when nothing was (the lease was lost, or recording failed).
    @discardableResult
    private func record(_ claimed: RunnerStore.ClaimedJob, control: JobControl, result: Result<JobOutcome, Error>,
                        bookkeeping: ConnectionKeeper) -> JobState? {
        let logger = context.logger
        let owner = context.identity.id
        var result = result
        var delay = 0.5
        while true {
            do {
                return try bookkeeping.use { db in
                    let store = RunnerStore(db: db, zone: context.zone)
                    return try write(claimed, control: control, result: result, store: store)
                }
            } catch let lost as LeaseLost {
                logger.warning("lease lost; the job belongs to another runner now", metadata: ["job": "\(claimed.job)", "error": "\(lost)"])
                discardStaged(result)
                RunnerMetrics.leasesLost(1)
                return nil
            } catch let error as PostgresError where error.isTransient {
                logger.warning("cannot record the job's end yet; retrying", metadata: ["job": "\(claimed.job)", "error": "\(error)",
                                                                                      "in_seconds": "\(delay)"])
                Thread.sleep(forTimeInterval: delay * Double.random(in: 0.75...1.25))
                delay = min(delay * 2, 10)
            } catch {
                discardStaged(result)
                // Not a database outage: a success that could not be published or recorded (a file-system
                // failure, an output the database refuses). The attempt fails with that error, on the
                // job run, and is retried if its class allows: not left to its lease to run out.
                if case .success = result {
                    let failure = JobFailure.classify(error)
                    logger.error("the job's outputs could not be published or recorded; the attempt fails",
                                 metadata: ["job": "\(claimed.job)", "error": "\(failure)"])
                    result = .failure(JobFailure(failureClass: failure.failureClass, sqlState: failure.sqlState,
                                                 message: "its outputs could not be published or recorded: \(failure.message)"))
                    continue
                }
                // Recording a failure failed for a reason that is not an outage (a bug): the lease
                // runs out and the rescuer gives the job to the queue again.
                logger.error("recording the job's end failed; its lease will expire and it will be rescued",
                             metadata: ["job": "\(claimed.job)", "owner": "\(owner)", "error": "\(error)"])
                return nil
            }
        }
    }

    private func write(_ claimed: RunnerStore.ClaimedJob, control: JobControl, result: Result<JobOutcome, Error>,
                       store: RunnerStore) throws -> JobState {
        let logger = context.logger
        let owner = context.identity.id
        let now = context.clock.now()
        let id = claimed.jobRunID
        let lease = claimed.lease
        switch result {
        case let .success(outcome):
            try store.whileLeased(lease) {
                try OutputFile.publish(outcome.publish.map { ($0.staged, $0.final) })
                for path in outcome.retire { try? FileManager.default.removeItem(atPath: path) }
                for output in outcome.outputs { try store.recordOutput(batchRunID: claimed.batchRunID, jobRunID: id, output: output) }
                let rejected = outcome.rejects > 0 ? "; \(outcome.rejects) bad record\(outcome.rejects == 1 ? "" : "s") set aside for review" : ""
                try store.leaveRunning(lease, batchRunID: claimed.batchRunID, to: outcome.rejects > 0 ? .succeededWithRejects : .succeeded,
                                       reason: (outcome.note ?? "\(outcome.rows) rows") + rejected, now: now,
                                       update: .init(rows: outcome.rows, note: outcome.note))
            }
            logger.info(outcome.rejects > 0 ? "job succeeded with rejects" : "job succeeded",
                        metadata: ["job": "\(claimed.job)", "rows": "\(outcome.rows)", "rejects": "\(outcome.rejects)"])
            return outcome.rejects > 0 ? .succeededWithRejects : .succeeded
        case let .failure(error):
            discardStaged(result)
            if let reason = stopReason(of: error, control: control) {
                switch reason {
                case .leaseLost:
                    throw LeaseLost(lease: lease)
                case .shutdown:
                    try store.leaveRunning(lease, batchRunID: claimed.batchRunID, to: .pending,
                                           reason: "released by \(owner): the runner is stopping; resumes from its checkpoint", now: now)
                    logger.notice("job released for resumption", metadata: ["job": "\(claimed.job)"])
                    return .pending
                case let .pause(why):
                    try store.leaveRunning(lease, batchRunID: claimed.batchRunID, to: .paused, reason: why, now: now)
                    logger.notice("job paused at a checkpoint", metadata: ["job": "\(claimed.job)", "reason": "\(why)"])
                    return .paused
                case let .deadline(why):
                    let failure = JobFailure(failureClass: .permanent, sqlState: nil, message: "timed out: \(why)")
                    try store.leaveRunning(lease, batchRunID: claimed.batchRunID, to: .timedOut,
                                           reason: "timed out: \(why)", now: now, update: .init(failure: failure))
                    logger.error("job timed out", metadata: ["job": "\(claimed.job)", "reason": "\(why)"])
                    return .timedOut
                }
            }
            let failure = JobFailure.classify(error)
            let failures = claimed.failures + 1
            let decision = RetryDecision.after(failure.failureClass, attempt: failures, retries: claimed.retries,
                                               baseDelay: context.configuration.settings.retryDelaySeconds,
                                               jitter: Double.random(in: 0..<1))
            switch decision {
            case let .retry(delay):
                try store.leaveRunning(lease, batchRunID: claimed.batchRunID, to: .retrying,
                                       reason: "\(failure.description); retry in \(delay) s", now: now,
                                       update: .init(failure: failure, notBefore: now.addingTimeInterval(TimeInterval(delay)),
                                                     countFailure: true))
                logger.warning("job attempt failed; retrying", metadata: ["job": "\(claimed.job)", "in_seconds": "\(delay)",
                                                                          "error": "\(failure)"])
                return .retrying
            case let .giveUp(reason):
                try store.leaveRunning(lease, batchRunID: claimed.batchRunID, to: .failed, reason: reason,
                                       now: now, update: .init(rows: 0, failure: failure, countFailure: true))
                logger.error("job failed", metadata: ["job": "\(claimed.job)", "error": "\(failure)"])
                return .failed
            }
        }
    }

    /// A stop the runner asked for, whether the job saw it at a checkpoint or its statement was
    /// cancelled for it.
    private func stopReason(of error: Error, control: JobControl) -> StopReason? {
        if let stopped = error as? JobStopped { return stopped.reason }
        if error is LeaseLost { return .leaseLost }
        if let pg = error as? PostgresError, pg.sqlState == "57014", let reason = control.stopReason { return reason }
        return nil
    }

    /// Removes the staged files of an attempt that will not publish them.
    private func discardStaged(_ result: Result<JobOutcome, Error>) {
        guard case let .success(outcome) = result else { return }
        for file in outcome.publish { _ = try? FileManager.default.removeItem(atPath: file.staged) }
    }
}
