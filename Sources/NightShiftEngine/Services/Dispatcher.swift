import Foundation
import NightShiftCore
import PostgresClient

/// Decides and claims. One pass, in one transaction serialised across runners by an advisory
/// lock: read every runner's queued and running work, ask Core's `DispatchModel` (the model
/// `plan` uses) what starts, pauses and waits, write the pause requests and wait reasons, and
/// claim the jobs to start for this runner's idle workers under a lease. A worker that finishes
/// a job runs the same claim for itself (`claim(on:limit:)`), so a busy runner does not wait for
/// this loop between jobs. The pass runs even with no idle worker: running jobs are re-judged
/// against their windows, the load and waiting P1 work every time.
final class Dispatcher: @unchecked Sendable {
    private let context: RunnerContext
    private let workers: Workers
    private let keeper: ConnectionKeeper
    private let model: DispatchModel
    /// In `run --once`: only this batch run.
    private let onlyBatchRun: Int?

    init(context: RunnerContext, workers: Workers, onlyBatchRun: Int?) {
        self.context = context
        self.workers = workers
        self.onlyBatchRun = onlyBatchRun
        keeper = ConnectionKeeper(connect: context.connect)
        let settings = context.configuration.settings
        model = DispatchModel(windows: context.configuration.windows, policy: context.configuration.priorityPolicy,
                              limits: DispatchLimits(maxBatches: settings.maxConcurrentBatches,
                                                     loadLimit: Double(settings.maxLoadPercent) / 100,
                                                     exportsFreeMinimum: Double(settings.minExportsFreePercent) / 100))
    }

    /// When the last pass ran: with no idle worker, a pass (which only re-judges running work)
    /// runs at most once per poll interval, however often job ends wake the loop.
    private var lastPass = Date.distantPast

    func runOnce() throws {
        let free = workers.idleCount
        let interval = Double(context.settings.pollMilliseconds) / 1000
        if free == 0 && Date().timeIntervalSince(lastPass) < interval { return }
        lastPass = Date()
        try keeper.use { db in
            for job in try claim(on: db, limit: free) { workers.submit(job) }
        }
    }

    /// Decides on `db` and claims up to `limit` jobs for this runner.
    func claim(on db: PostgresConnection, limit: Int) throws -> [RunnerStore.ClaimedJob] {
        let now = context.clock.now()
        let owner = context.identity.id
        let leaseSeconds = context.settings.leaseSeconds
        let resources = MachineReadings.read(exportsDirectory: context.configuration.settings.exportsDirectory)
        let store = RunnerStore(db: db, zone: context.zone)
        return try db.transaction {
            try db.query("SELECT pg_advisory_xact_lock(hashtext('nightshift.dispatch'))")
            let snapshot = try store.dispatchSnapshot(now: now, onlyBatchRun: onlyBatchRun, leaseSeconds: leaseSeconds)
            for error in snapshot.unreadable { context.unreadable.report(error, by: "dispatcher") }
            var queue = ReadyQueue(policy: model.policy, jobs: snapshot.queued)
            let freeElsewhere = snapshot.capacity - snapshot.running.count - limit
            let state = DispatchState(now: now, running: snapshot.running, freeSlots: limit, noSlotAnywhere: freeElsewhere <= 0,
                                      activeBatches: snapshot.activeBatches, resources: resources)
            let decision = model.decide(&queue, state)
            try store.record(decision)
            for pause in decision.pauses {
                context.logger.notice("pause asked for", metadata: ["job": "\(pause.job.job.name)", "cause": "\(pause.cause.rawValue)",
                                                                    "reason": "\(pause.reason)"])
            }
            let late = Dictionary(decision.lateStarts.map { ($0.job.id, $0.seconds) }, uniquingKeysWith: { a, _ in a })
            return try store.claim(decision.starts, lateBy: late, from: snapshot.states, owner: owner, now: now,
                                   leaseSeconds: leaseSeconds)
        }
    }

    func close() { keeper.close() }
}
