import Foundation
import NightShiftCore
import Packaging
import PostgresClient

/// How an attempt ended, written by the worker that ran it: published outputs and a success, a
/// release (stop, pause), a time-out, a retry or a failure. Every write is fenced by the lease.
extension Workers {
    /// Records how the attempt ended. Bookkeeping survives database outages: it is retried with
    /// back-off until it is written, or until the lease is known to be lost (then another runner
    /// owns the job and nothing is written).
    /// - Returns: the state written, nil when nothing was (the lease was lost, or recording failed).
    @discardableResult
    func record(_ claimed: RunnerStore.ClaimedJob, control: JobControl, result: Result<JobOutcome, Error>,
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
                // Each output, and its delivery to every target the job names (in the same transaction):
                // an export's archives first, its manifest and signature last (they say the rest is there).
                let targets = context.configuration.jobs.first { $0.name == claimed.job && $0.batch == claimed.batch }?.deliverTo ?? []
                let ordered = outcome.outputs.filter { ![.manifest, .signature].contains($0.kind) }
                    + outcome.outputs.filter { $0.kind == .manifest } + outcome.outputs.filter { $0.kind == .signature }
                for (seq, output) in ordered.enumerated() {
                    let outputID = try store.recordOutput(batchRunID: claimed.batchRunID, jobRunID: id, output: output)
                    try DeliveryStore(db: store.db).queue(outputID: outputID, jobRunID: id, targets: targets,
                                                          remoteName: (output.path as NSString).lastPathComponent, seq: seq, now: now, runner: owner)
                }
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
    func discardStaged(_ result: Result<JobOutcome, Error>) {
        guard case let .success(outcome) = result else { return }
        for file in outcome.publish { _ = try? FileManager.default.removeItem(atPath: file.staged) }
    }
}
