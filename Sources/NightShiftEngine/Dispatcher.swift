import Foundation
import NightShiftCore

/// Hands ready work to this runner's free workers. One pass: skip the jobs that can no longer
/// run (a dependency failed, the batch window ended), then claim as many ready jobs as there
/// are idle workers — by priority, then the batch's scheduled instant — under a lease.
final class Dispatcher: @unchecked Sendable {
    private let context: RunnerContext
    private let workers: Workers
    private let keeper: ConnectionKeeper
    /// In `run --once`: only this batch run.
    private let onlyBatchRun: Int?

    init(context: RunnerContext, workers: Workers, onlyBatchRun: Int?) {
        self.context = context
        self.workers = workers
        self.onlyBatchRun = onlyBatchRun
        keeper = ConnectionKeeper(connect: context.connect)
    }

    func runOnce() throws {
        try keeper.use { db in
            let store = RunnerStore(db: db, zone: context.zone)
            let now = context.clock.now()
            let skipped = try store.skipBlockedJobs(now: now, runner: context.identity.id)
            if skipped > 0 { context.logger.warning("jobs skipped", metadata: ["count": "\(skipped)"]) }
            let free = workers.idleCount
            guard free > 0 else { return }
            let claimed = try store.claim(owner: context.identity.id, now: now, limit: free,
                                          perBatch: context.configuration.settings.concurrentJobs,
                                          leaseSeconds: context.settings.leaseSeconds, onlyBatchRun: onlyBatchRun)
            for job in claimed { workers.submit(job) }
        }
    }

    func close() { keeper.close() }
}
