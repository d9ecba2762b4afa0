import Foundation
import NightShiftCore
import PostgresClient

/// One delivery a sender claimed: the file, where it goes, and this attempt's number.
public struct ClaimedDelivery: Sendable, Equatable {
    public let id: Int
    public let target: String
    public let path: String
    public let remoteName: String
    public let sha256: String
    public let bytes: Int
    /// This attempt's number (1 for the first).
    public let attempt: Int
}

/// One delivery as `nightshift deliveries` and `status` show it.
public struct DeliveryListing: Sendable, Equatable {
    public let id: Int
    public let target: String
    public let job: String
    public let businessDate: String
    public let remoteName: String
    public let state: DeliveryState
    public let attempts: Int
    public let nextAttemptAt: Date?
    public let lastError: String?
    /// The receipt, once delivered.
    public let remotePath: String?
    public let remoteBytes: Int?
    public let sha256: String
    public let deliveredAt: Date?
    public let createdAt: Date
}

/// The delivery queue (`nightshift.deliveries`): queued with the output, claimed under a lease,
/// ended with a receipt or a reason. Every change is a `delivery_transitions` row.
public struct DeliveryStore {
    let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    /// Queues output `outputID` for each of `targets` (in the publishing transaction). `seq` orders
    /// a job run's files per target: a file goes only after those with a lower one.
    func queue(outputID: Int, jobRunID: Int, targets: [String], remoteName: String, seq: Int, now: Date, runner: String) throws {
        guard !targets.isEmpty else { return }
        try db.query("""
            WITH queued AS (
                INSERT INTO nightshift.deliveries (output_id, job_run_id, target, remote_name, seq, next_attempt_at, created_at)
                SELECT \(outputID), \(jobRunID), t, \(remoteName), \(seq), \(now)::timestamptz, \(now)::timestamptz
                FROM unnest(\(targets)::text[]) AS t
                ON CONFLICT (output_id, target) DO NOTHING
                RETURNING id
            )
            INSERT INTO nightshift.delivery_transitions (delivery_id, from_state, to_state, attempt, runner, at)
            SELECT id, NULL, \(DeliveryState.queued), 0, \(runner), \(now)::timestamptz FROM queued
            """)
    }

    /// Claims the next delivery due at `now` (queued and due, or sending under an expired lease)
    /// whose earlier files (lower seq, same job run and target) are all delivered. nil: none.
    public func claimNext(now: Date, runner: String, leaseSeconds: Int, skipping targets: [String] = []) throws -> ClaimedDelivery? {
        let result = try db.query("""
            WITH due AS (
                SELECT d.id, d.state FROM nightshift.deliveries d
                WHERE ((d.state = \(DeliveryState.queued) AND d.next_attempt_at <= \(now)::timestamptz)
                       OR (d.state = \(DeliveryState.sending) AND d.lease_expires_at < clock_timestamp()))
                  AND NOT (d.target = ANY(\(targets)::text[]))
                  AND NOT EXISTS (SELECT 1 FROM nightshift.deliveries e
                                  WHERE e.job_run_id = d.job_run_id AND e.target = d.target AND e.seq < d.seq
                                    AND e.state <> \(DeliveryState.delivered))
                ORDER BY d.next_attempt_at, d.id
                LIMIT 1
                FOR UPDATE OF d SKIP LOCKED
            ), claimed AS (
                UPDATE nightshift.deliveries d
                SET state = \(DeliveryState.sending), claimed_by = \(runner),
                    lease_expires_at = clock_timestamp() + make_interval(secs => \(leaseSeconds)::int), attempts = d.attempts + 1
                FROM due WHERE d.id = due.id
                RETURNING d.id, due.state AS from_state, d.target, d.remote_name, d.output_id, d.attempts
            ), recorded AS (
                INSERT INTO nightshift.delivery_transitions (delivery_id, from_state, to_state, attempt, runner, error, at)
                SELECT id, from_state, \(DeliveryState.sending), attempts, \(runner),
                       CASE WHEN from_state = \(DeliveryState.sending) THEN 'the lease of the previous sender expired during its upload' END,
                       \(now)::timestamptz
                FROM claimed
            )
            SELECT c.id, c.target, c.remote_name, c.attempts, o.path, o.sha256, o.bytes
            FROM claimed c JOIN nightshift.outputs o ON o.id = c.output_id
            """)
        guard result.rowCount == 1 else { return nil }
        let row = result.row(0, of: "nightshift.deliveries")
        return ClaimedDelivery(id: try row.int("id"), target: try row.text("target"), path: try row.text("path"),
                               remoteName: try row.text("remote_name"), sha256: try row.text("sha256"), bytes: try row.int("bytes"),
                               attempt: try row.int("attempts"))
    }

    /// Records the receipt. False when the claim was lost (another sender has it now).
    @discardableResult
    public func delivered(_ delivery: ClaimedDelivery, remotePath: String, remoteBytes: Int64, now: Date, runner: String) throws -> Bool {
        try finish(delivery, to: .delivered, nextAttemptAt: nil, remotePath: remotePath, remoteBytes: remoteBytes, curlCode: nil,
                   error: nil, now: now, runner: runner)
    }

    /// Records a failed attempt: queued again at `retryAt`, or a dead letter when `retryAt` is nil.
    @discardableResult
    public func failed(_ delivery: ClaimedDelivery, retryAt: Date?, curlCode: Int?, error: String, now: Date, runner: String) throws -> Bool {
        try finish(delivery, to: retryAt == nil ? .dead : .queued, nextAttemptAt: retryAt, remotePath: nil, remoteBytes: nil,
                   curlCode: curlCode, error: error, now: now, runner: runner)
    }

    private func finish(_ delivery: ClaimedDelivery, to state: DeliveryState, nextAttemptAt: Date?, remotePath: String?, remoteBytes: Int64?,
                        curlCode: Int?, error: String?, now: Date, runner: String) throws -> Bool {
        try Transitions.check(delivery: .sending, to: state)
        let result = try db.query("""
            WITH done AS (
                UPDATE nightshift.deliveries
                SET state = \(state), claimed_by = NULL, lease_expires_at = NULL,
                    next_attempt_at = COALESCE(\(nextAttemptAt)::timestamptz, next_attempt_at),
                    delivered_at = CASE WHEN \(state == .delivered) THEN \(now)::timestamptz END,
                    remote_path = COALESCE(\(remotePath), remote_path), remote_bytes = COALESCE(\(remoteBytes.map(Int.init))::bigint, remote_bytes),
                    last_error = \(error), curl_code = \(curlCode)::int
                WHERE id = \(delivery.id) AND state = \(DeliveryState.sending) AND claimed_by = \(runner) AND attempts = \(delivery.attempt)
                RETURNING id
            ), recorded AS (
                INSERT INTO nightshift.delivery_transitions (delivery_id, from_state, to_state, attempt, runner, curl_code, error, at)
                SELECT id, \(DeliveryState.sending), \(state), \(delivery.attempt)::int, \(runner), \(curlCode)::int, \(error), \(now)::timestamptz
                FROM done
            )
            SELECT id FROM done
            """)
        return result.rowCount == 1
    }

    /// Deliveries in `states`, newest first, at most `limit`.
    public func list(states: [DeliveryState] = DeliveryState.allCases, limit: Int) throws -> [DeliveryListing] {
        let rows = try db.query("""
            SELECT d.id, d.target, j.job, b.business_date::text AS business_date, d.remote_name, d.state, d.attempts, d.last_error,
                   d.remote_path, d.remote_bytes, o.sha256,
                   extract(epoch FROM d.next_attempt_at)::float8 AS next_attempt_at, extract(epoch FROM d.delivered_at)::float8 AS delivered_at,
                   extract(epoch FROM d.created_at)::float8 AS created_at
            FROM nightshift.deliveries d JOIN nightshift.outputs o ON o.id = d.output_id
            JOIN nightshift.job_runs j ON j.id = d.job_run_id JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
            WHERE d.state = ANY(\(states)::text[])
            ORDER BY d.id DESC LIMIT \(limit)
            """)
        return try rows.decode(of: "nightshift.deliveries") { row in
            let state = try row.value("state", as: DeliveryState.self)
            // -infinity: due at once (sent again by a person).
            let date = { (column: String) in try row.optionalDouble(column).flatMap { $0.isFinite ? Date(timeIntervalSince1970: $0) : nil } }
            return DeliveryListing(id: try row.int("id"), target: try row.text("target"), job: try row.text("job"),
                                   businessDate: try row.text("business_date"), remoteName: try row.text("remote_name"), state: state,
                                   attempts: try row.int("attempts"), nextAttemptAt: state == .queued ? try date("next_attempt_at") : nil,
                                   lastError: try row.optionalText("last_error"), remotePath: try row.optionalText("remote_path"),
                                   remoteBytes: try row.optionalInt("remote_bytes"), sha256: try row.text("sha256"),
                                   deliveredAt: try date("delivered_at"), createdAt: try date("created_at") ?? Date(timeIntervalSince1970: 0))
        }
    }

    /// Queues a dead or delivered file again (`nightshift deliveries retry`), its attempts counted
    /// afresh and due at once. Returns the state it was in; nil when `id` is neither (or unknown).
    public func requeue(_ id: Int, now: Date, by who: String) throws -> DeliveryState? {
        try Transitions.check(delivery: .dead, to: .queued)
        try Transitions.check(delivery: .delivered, to: .queued)
        let result = try db.query("""
            WITH before AS (
                SELECT id, state FROM nightshift.deliveries WHERE id = \(id) AND state = ANY(\([DeliveryState.dead, .delivered])::text[]) FOR UPDATE
            ), again AS (
                UPDATE nightshift.deliveries d SET state = \(DeliveryState.queued), attempts = 0, next_attempt_at = '-infinity',
                    delivered_at = NULL, last_error = NULL, curl_code = NULL
                FROM before WHERE d.id = before.id
                RETURNING d.id, before.state
            ), recorded AS (
                INSERT INTO nightshift.delivery_transitions (delivery_id, from_state, to_state, attempt, runner, error, at)
                SELECT id, state, \(DeliveryState.queued), 0, \(who), 'queued again by ' || \(who), \(now)::timestamptz FROM again
            )
            SELECT state FROM again
            """)
        guard result.rowCount == 1 else { return nil }
        return try result.row(0, of: "nightshift.deliveries", id: "state").value("state", as: DeliveryState.self)
    }
}
