import Foundation
import PostgresClient

/// Jobs whose lease expired (their runner died or lost the database) go back to the queue and
/// resume from their checkpoint, or fail when their retries are spent (`RunnerStore.rescueExpiredLeases`).
final class LeaseRescuer: UpkeepConcern {
    let name = "lease rescue"
    private let context: RunnerContext
    /// Called when jobs were put back in the queue (wakes the dispatcher).
    var onRescued: () -> Void = {}

    init(context: RunnerContext) { self.context = context }

    func runOnce(db: PostgresConnection, now: Date) throws {
        let rescued = try RunnerStore(db: db, zone: context.zone).rescueExpiredLeases(now: now, runner: context.identity.id)
        for job in rescued {
            context.logger.warning("lease expired; job rescued", metadata: ["job": "\(job.job)", "job_run": "\(job.jobRunID)",
                                                                            "former_owner": "\(job.formerOwner)", "now": "\(job.state.rawValue)"])
        }
        RunnerMetrics.leasesLost(rescued.count, rescued: true)
        if !rescued.isEmpty { onRescued() }
    }
}
