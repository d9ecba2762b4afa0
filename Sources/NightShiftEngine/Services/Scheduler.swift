import Foundation
import NightShiftConfig
import NightShiftCore
import PostgresClient

/// Fires the batch schedules. Only the leader does (a PostgreSQL session advisory lock, held by
/// this service's connection: when the leader dies, its session ends and another runner takes
/// over). One pass: for each batch that has jobs, the occurrences due since the schedule cursor
/// (holiday policy, then misfire policy), each created once — the unique key on (batch,
/// scheduled instant, run number) makes a second creation a no-op — then the cursor moves on.
final class Scheduler: @unchecked Sendable {
    private let context: RunnerContext
    private let keeper: ConnectionKeeper
    private let lock = NSLock()
    private var leader = false
    /// Called when an occurrence was created (wakes the dispatcher).
    var onCreated: () -> Void = {}

    init(context: RunnerContext) {
        self.context = context
        keeper = ConnectionKeeper(connect: context.connect)
    }

    var isLeader: Bool {
        lock.lock()
        defer { lock.unlock() }
        return leader
    }

    private func setLeader(_ value: Bool) {
        lock.lock()
        let changed = leader != value
        leader = value
        lock.unlock()
        if changed { context.logger.notice(value ? "this runner is the scheduler leader" : "this runner is no longer the leader") }
    }

    func runOnce() throws {
        do {
            try keeper.use { db in
                // A session lock: held for as long as this connection lives.
                let acquired = try db.query("SELECT pg_try_advisory_lock(hashtext('nightshift.scheduler')) AS ok").bool(0, "ok") ?? false
                if acquired && isLeader {
                    // Already held: the second acquisition stacks; release it again.
                    try db.query("SELECT pg_advisory_unlock(hashtext('nightshift.scheduler'))")
                }
                // The only writer of is_leader (a no-op when the row already says so).
                try db.query("UPDATE nightshift.runners SET is_leader = \(acquired) WHERE id = \(context.identity.id) AND is_leader IS DISTINCT FROM \(acquired)")
                setLeader(acquired)
                guard acquired else { return }
                let store = RunnerStore(db: db, zone: context.zone)
                for batch in BatchKind.allCases where !context.configuration.jobs(in: batch).isEmpty {
                    try fire(batch, store: store, db: db)
                }
            }
        } catch {
            setLeader(false)
            throw error
        }
    }

    private func fire(_ batch: BatchKind, store: RunnerStore, db: PostgresConnection) throws {
        let configuration = context.configuration
        let schedule = configuration.schedule(batch)
        let zone = context.zone
        let now = context.clock.now()
        var cursor = try store.scheduleCursor(batch)
        if let last = cursor, last > now {
            context.logger.warning("the clock is behind the schedule cursor (a simulation started earlier than the last one); evaluating from now",
                                   metadata: ["batch": "\(batch.rawValue)", "cursor": "\(last.iso8601(in: zone))"])
            cursor = now
        }
        let due = schedule.due(cursor: cursor, now: now, calendar: configuration.windows.calendar, zone: zone)
        if due.dropped > 0 {
            context.logger.warning("missed occurrences dropped", metadata: ["batch": "\(batch.rawValue)", "dropped": "\(due.dropped)",
                                                                            "reason": "\(due.reason)"])
        }
        for occurrence in due.run {
            let creation: RunnerStore.Creation
            do {
                creation = try OccurrenceFactory(configuration: configuration, db: db)
                    .create(batch: batch, at: occurrence.instant, trigger: "schedule", now: now, runner: context.identity.id,
                            notes: occurrence.note == "on schedule" ? [] : [occurrence.note]
                                + (due.dropped > 0 ? ["\(due.reason); \(due.dropped) dropped"] : []))
            } catch let error as RowDecodingError {
                // The occurrence's run exists but cannot be read: left alone, the schedule carries on.
                context.unreadable.report(error, by: "scheduler")
                continue
            }
            if case let .created(id) = creation {
                context.logger.notice("batch occurrence created", metadata: ["batch": "\(batch.rawValue)", "batch_run": "\(id)",
                                                                             "scheduled_for": "\(occurrence.instant.iso8601(in: zone))"])
                onCreated()
            }
        }
        try store.advanceScheduleCursor(batch, to: now, runner: context.identity.id)
    }

    func close() {
        keeper.close()
        setLeader(false)
    }
}
