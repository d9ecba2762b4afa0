import Foundation
import NightShiftCore
import PostgresClient

/// Hands ready work to this runner's free workers. One pass: claim as many ready jobs as there
/// are idle workers — by priority, then the batch's scheduled instant — under a lease. A worker
/// that finishes a job also claims its next one itself (`claim(on:limit:)`), on its own
/// connection, so a busy runner does not wait for this loop between jobs. Jobs that can no
/// longer run are skipped by the rescuer.
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
        let free = workers.idleCount
        guard free > 0 else { return }
        try keeper.use { db in
            for job in try claim(on: db, limit: free) { workers.submit(job) }
        }
    }

    /// Claims up to `limit` ready jobs for this runner on `db`.
    func claim(on db: PostgresConnection, limit: Int) throws -> [RunnerStore.ClaimedJob] {
        try RunnerStore(db: db, zone: context.zone)
            .claim(owner: context.identity.id, now: context.clock.now(), limit: limit,
                   perBatch: context.configuration.settings.concurrentJobs,
                   leaseSeconds: context.settings.leaseSeconds, onlyBatchRun: onlyBatchRun)
    }

    func close() { keeper.close() }
}
