import Foundation
import Logging
import NightShiftConfig
import NightShiftCore
import Packaging
import PostgresClient

/// The workers: `count` dedicated threads (libpq blocks), each running one claimed job at a time
/// on a connection of its own, and recording how the attempt ended with fenced writes.
final class Workers: @unchecked Sendable {
    let context: RunnerContext
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
        let control = JobControl(deadline: job.deadline, deadlineReason: job.deadlineReason, clock: context.clock,
                                 log: JobLog(jobRunID: job.jobRunID, attempt: job.attempt, clock: context.clock))
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
        let logger = control.log.logger(over: context.logger)
        let result: Result<JobOutcome, Error>
        let started = Date()
        let definition = context.configuration.jobs.first(where: { $0.name == claimed.job && $0.batch == claimed.batch })
        if let job = definition {
            logger.info("job started", metadata: ["job": "\(claimed.job)", "job_run": "\(claimed.jobRunID)", "attempt": "\(claimed.attempt)",
                                                  "runner": "\(context.identity.id)"])
            result = Result {
                try connection.use { db in
                    control.attach(db)
                    let log = control.log
                    db.onNotice = { notice in log.notice(notice) }
                    defer {
                        db.onNotice = nil
                        control.attach(nil)
                    }
                    do {
                        let outcome = try execute(job, claimed, control: control, db: db, logger: logger)
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
        let state = record(claimed, control: control, result: result, bookkeeping: bookkeeping)
        writeLog(claimed, control: control, result: result, state: state, bookkeeping: bookkeeping)
        if let state {
            let outcome = try? result.get()
            RunnerMetrics.attemptEnded(job: claimed.job, priority: definition?.priority, state: state, seconds: Date().timeIntervalSince(started),
                                       rows: outcome?.rows ?? 0, rejects: outcome?.rejects ?? 0)
        }
    }

    /// The attempt's last lines (how it ended) and everything not yet written, on the bookkeeping
    /// connection; tried a few times, then given up with a warning (the job's end is already recorded).
    private func writeLog(_ claimed: RunnerStore.ClaimedJob, control: JobControl, result: Result<JobOutcome, Error>, state: JobState?,
                          bookkeeping: ConnectionKeeper) {
        let log = control.log
        if case let .success(outcome) = result { log.progress(rows: outcome.rows, force: true) }
        switch (state, result) {
        case let (state?, .success(outcome)):
            log.append(.info, .runner, "attempt \(claimed.attempt) ended: \(state.rawValue), \(outcome.rows) rows" + (outcome.note.map { " (\($0))" } ?? ""))
        case let (state?, .failure(error)):
            let level: JobLogLevel = state == .failed || state == .timedOut ? .error : state == .retrying ? .warning : .notice
            let why = (error as? JobStopped).map { "\($0.reason)" } ?? "\(JobFailure.classify(error))"
            log.append(level, .runner, "attempt \(claimed.attempt) ended: \(state.rawValue): \(why)")
        case (nil, _):
            log.append(.warning, .runner, "attempt \(claimed.attempt) ended without being recorded here (its lease was lost, or the database refused the record); another runner owns the job now")
        }
        log.finish()
        for delay in [0.0, 0.5, 2.0] {
            Thread.sleep(forTimeInterval: delay)
            do {
                try bookkeeping.use { db in try log.flush(to: db) }
                return
            } catch {
                if delay == 2.0 {
                    context.logger.warning("the job's last log lines could not be written", metadata: ["job": "\(claimed.job)", "error": "\(error)"])
                }
            }
        }
    }

    private func execute(_ job: JobDefinition, _ claimed: RunnerStore.ClaimedJob, control: JobControl,
                         db: PostgresConnection, logger: Logger) throws -> JobOutcome {
        let jobContext = JobContext(job: job, jobRunID: claimed.jobRunID, attempt: claimed.attempt,
                                    businessDate: claimed.businessDate, configuration: context.configuration, db: db,
                                    logger: logger, control: control, lease: claimed.lease,
                                    leaseSeconds: context.settings.leaseSeconds, clock: context.clock)
        return try Executors.executor(for: job.action).execute(jobContext)
    }
}
