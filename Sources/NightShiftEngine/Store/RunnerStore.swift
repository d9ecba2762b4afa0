import Foundation
import NightShiftCore
import PostgresClient

/// The runner's own tables (`nightshift.*`), one file per concern in Store/: runners (here),
/// occurrences, leases, batches, schedule cursors, dispatch, transitions. Every batch and job
/// state change is recorded in `state_transitions` (`Transitions`) in the same transaction as the
/// new state. Every statement binds its values (`SQL`).
///
/// Every write of a job that a runner is running is fenced by its lease (`Lease.fence`): the
/// UPDATE names the owner, the attempt and the `running` state, and finding no row means the
/// lease is gone (`LeaseLost`) — the write is rolled back and the job belongs to someone else.
public final class RunnerStore {
    let db: PostgresConnection
    /// The zone times are shown in, in reasons written to the database.
    let zone: TimeZone

    public init(db: PostgresConnection, zone: TimeZone = TimeZone(identifier: "Asia/Taipei")!) {
        self.db = db
        self.zone = zone
    }

    /// Registers the runner unless its connections would take the live runners' total past
    /// `totalConnections` (serialised by an advisory lock). Returns nil when registered, else the
    /// connections the live runners hold now.
    public func registerRunner(_ identity: RunnerIdentity, clock: RunnerClock, workers: Int, mode: String, connections: Int,
                               totalConnections: Int, liveWithinSeconds: Int) throws -> Int? {
        try db.transaction {
            try db.query("SELECT pg_advisory_xact_lock(hashtext('nightshift.connections'))")
            let inUse = try db.query("""
                SELECT coalesce(sum(connections), 0)::int FROM nightshift.runners
                WHERE id <> \(identity.id) AND state <> \(RunnerState.stopped)
                  AND heartbeat_at > clock_timestamp() - make_interval(secs => \(liveWithinSeconds))
                """).int(0, 0) ?? 0
            guard inUse + connections <= totalConnections else { return inUse }
            try db.query("""
                INSERT INTO nightshift.runners (id, host, pid, clock_start, clock_speed, clock_now, state, workers, mode, connections)
                VALUES (\(identity.id), \(identity.host), \(identity.pid), \(clock.start), \(clock.speed), \(clock.now()),
                        \(RunnerState.running), \(workers), \(mode), \(connections))
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = clock_timestamp(), state = \(RunnerState.running)
                """)
            return nil
        }
    }

    /// The runner's heartbeat. `is_leader` is not written here: the scheduler, which holds the
    /// leader lock, is its only writer.
    public func beatRunner(_ id: String, clockNow: Date, stopping: Bool) throws {
        try db.query("""
            UPDATE nightshift.runners SET heartbeat_at = clock_timestamp(), clock_now = \(clockNow),
                state = CASE WHEN \(stopping) THEN \(RunnerState.stopping) ELSE state END
            WHERE id = \(id)
            """)
    }

    public func stopRunner(_ id: String) throws {
        try db.query("""
            UPDATE nightshift.runners SET state = \(RunnerState.stopped), stopped_at = clock_timestamp(), is_leader = false WHERE id = \(id)
            """)
    }
}

func iso8601(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: date)
}
