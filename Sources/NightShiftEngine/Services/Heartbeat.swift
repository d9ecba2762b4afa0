import Foundation
import NightShiftCore

/// Proves this runner is alive. One pass: renews the leases of the jobs its workers run (and
/// records their progress); a job whose lease was taken over is told to stop and its statement
/// cancelled; a job past its deadline likewise; when a stop was requested and a job did not
/// reach a checkpoint within the stop timeout, its statement is cancelled. Then the runner's own
/// row and systemd's watchdog.
final class Heartbeat: @unchecked Sendable {
    private let context: RunnerContext
    private let workers: Workers
    private let keeper: ConnectionKeeper
    private let notifier: SystemdNotifier?
    private let lock = NSLock()
    private var stopRequestedAt: Date?

    init(context: RunnerContext, workers: Workers, notifier: SystemdNotifier?) {
        self.context = context
        self.workers = workers
        self.notifier = notifier
        keeper = ConnectionKeeper(connect: context.connect)
    }

    func stopRequested() {
        lock.lock()
        if stopRequestedAt == nil { stopRequestedAt = Date() }
        lock.unlock()
    }

    func runOnce() throws {
        let running = workers.running
        // Deadlines and the stop timeout are judged locally, even when the database is away.
        lock.lock()
        let stopping = stopRequestedAt
        lock.unlock()
        let overdue = stopping.map { Date().timeIntervalSince($0) >= Double(context.settings.stopTimeoutSeconds) } ?? false
        for (_, control) in running {
            if control.checkDeadline() || (overdue && control.stopReason != nil) { control.cancelStatement() }
        }
        notifier?.notify("WATCHDOG=1")
        try keeper.use { db in
            let store = RunnerStore(db: db, zone: context.zone)
            let progress = running.mapValues(\.progressRows)
            let held = try store.renewLeases(owner: context.identity.id, leases: Array(running.keys),
                                             leaseSeconds: context.settings.leaseSeconds, progress: progress)
            for (key, control) in running {
                guard let pause = held[key] else {
                    control.requestStop(.leaseLost)
                    control.cancelStatement()
                    continue
                }
                // A pause is taken at the job's next checkpoint; its statement is not cancelled.
                if let pause { control.requestStop(.pause(pause)) }
            }
            try store.beatRunner(context.identity.id, clockNow: context.clock.now(), stopping: stopping != nil)
            // The running jobs' log lines so far (a line the job's thread adds meanwhile waits for the next beat).
            // A write that fails keeps its lines for the next beat; it never stops the heartbeat.
            for control in running.values { try? control.log.flush(to: db) }
        }
        let jobs = "\(running.count) job\(running.count == 1 ? "" : "s")"
        let clock = context.clock.now().iso8601(in: context.zone)
        notifier?.notify(stopping == nil ? "STATUS=\(jobs) running; clock \(clock)" : "STATUS=stopping: \(jobs) to release at a checkpoint; clock \(clock)")
    }

    func close() { keeper.close() }
}
