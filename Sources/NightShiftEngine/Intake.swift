import Foundation
import NightShiftCore
import PostgresClient

/// Takes requests for work into the queue. One pass, on a connection that LISTENs on channel
/// `nightshift_requests` (every accepted or approved request NOTIFYs it):
///
/// 1. requests awaiting approval longer than `approval_hours` expire;
/// 2. each accepted request is checked again against this runner's own configuration (role,
///    approval in production, quota, the job) and either refused or made a batch run — in one
///    transaction with the request's row locked (FOR UPDATE SKIP LOCKED: one runner takes it,
///    a crash leaves it accepted for the next pass). The batch run then waits in the one queue
///    until windows, priorities and limits let it start, with the reason recorded on its jobs;
/// 3. queued requests whose batch run ended are finished, with its outcome.
///
/// Every step is an audit row. Between passes the service waits for a notification, at most
/// `runner.poll_milliseconds` (the polling fallback when a notification is missed).
final class Intake: @unchecked Sendable {
    private let context: RunnerContext
    private let keeper: ConnectionKeeper
    /// The session that LISTENs (a reconnect LISTENs again).
    private var listening: Int32 = 0
    /// Called when a request became a batch run (wakes the dispatcher).
    var onQueued: () -> Void = {}

    init(context: RunnerContext) {
        self.context = context
        keeper = ConnectionKeeper(connect: context.connect)
    }

    private var actor: String { "runner \(context.identity.id)" }

    func runOnce() throws {
        try keeper.use { db in
            if listening != db.backendPID {
                try db.execute("LISTEN nightshift_requests")
                listening = db.backendPID
            }
            try expire(db)
            while try takeNext(db) {}
            try finishEnded(db)
        }
    }

    /// Waits for a request notification, at most `seconds`.
    func waitForRequests(upTo seconds: TimeInterval) throws {
        try keeper.use { db in
            guard listening == db.backendPID else { return } // a new session: the next pass LISTENs and looks
            _ = try db.notifications(waitingUpTo: seconds)
        }
    }

    func close() { keeper.close() }

    private func expire(_ db: PostgresConnection) throws {
        let hours = context.configuration.requestPolicy.approvalHours
        try db.execute("""
            WITH gone AS (
                UPDATE nightshift.requests SET state = 'expired', decided_by = $2, decided_at = clock_timestamp(),
                       state_reason = format('not approved within %s hours (approval_hours in etc/operators.yaml)', $1::int)
                WHERE state = 'awaiting_approval' AND requested_at < clock_timestamp() - make_interval(hours => $1::int)
                RETURNING id, requested_by)
            INSERT INTO nightshift.audit (actor, host, command, outcome, request_id, detail)
            SELECT $2, $3, 'expire', 'expired', id, format('%s''s request was not approved within %s hours', requested_by, $1::int)
            FROM gone
            """, [String(hours), actor, context.identity.host])
    }

    /// Takes one accepted request: refuses it or makes it a batch run. False when none is left.
    private func takeNext(_ db: PostgresConnection) throws -> Bool {
        let queued: Bool? = try db.transaction {
            let rows = try db.execute("""
                SELECT id, source, batch, job, business_date::text AS business_date, priority, reason, requested_by, approved_by,
                       (SELECT count(*) FROM nightshift.requests o WHERE o.requested_by = r.requested_by AND o.quota_day = r.quota_day
                            AND o.id <= r.id AND o.state <> 'refused') AS nth_today
                FROM nightshift.requests r WHERE state = 'accepted' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED
                """)
            guard rows.rowCount == 1 else { return nil }
            let id = rows.int(0, "id")!
            let requester = rows.string(0, "requested_by")!
            let batch = BatchKind(rawValue: rows.string(0, "batch")!)!
            let job = rows.string(0, "job")
            if let refusal = refusal(source: rows.string(0, "source")!, requester: requester, approvedBy: rows.string(0, "approved_by"),
                                     nthToday: rows.int(0, "nth_today") ?? 0, batch: batch, job: job) {
                try db.execute("""
                    UPDATE nightshift.requests SET state = 'refused', state_reason = $2, decided_by = $3, decided_at = clock_timestamp()
                    WHERE id = $1
                    """, [String(id), refusal, actor])
                try audit(db, "queue", "refused", id, refusal)
                context.logger.warning("request refused", metadata: ["request": "\(id)", "by": "\(requester)", "reason": "\(refusal)"])
                return false
            }
            let priority = rows.int(0, "priority").flatMap(Priority.init(rawValue:))
            let request = OccurrenceFactory.Requested(id: id, job: job, businessDate: rows.string(0, "business_date").flatMap(LocalDate.init(iso:)),
                                                      priority: priority)
            // A cron occurrence is on a whole minute: a request's instant never is, so the two never share a key.
            var instant = context.clock.now()
            if instant.timeIntervalSince1970.truncatingRemainder(dividingBy: 60) == 0 { instant.addTimeInterval(0.001) }
            let reason = rows.string(0, "reason")!
            let creation = try OccurrenceFactory(configuration: context.configuration, db: db)
                .create(batch: batch, at: instant, trigger: "request #\(id) by \(requester): \(reason)", now: instant,
                        runner: context.identity.id, request: request)
            guard case let .created(batchRunID) = creation else {
                throw RequestIntakeError(request: id, problem: "its batch run could not be created (\(creation))")
            }
            try db.execute("UPDATE nightshift.requests SET state = 'queued', state_reason = NULL, batch_run_id = $2 WHERE id = $1",
                           [String(id), String(batchRunID)])
            try audit(db, "queue", "queued", id, "batch run #\(batchRunID)")
            context.logger.notice("request queued", metadata: ["request": "\(id)", "by": "\(requester)", "batch_run": "\(batchRunID)"])
            return true
        }
        guard let queued else { return false }
        if queued { onQueued() }
        return true
    }

    /// The runner's own check of an accepted request, with its configuration (the client's may
    /// differ, or be bypassed by calling the database function directly).
    private func refusal(source: String, requester: String, approvedBy: String?, nthToday: Int, batch: BatchKind, job: String?) -> String? {
        let policy = context.configuration.requestPolicy
        if source == "cli", let refusal = policy.refusal(requester, .submit) { return refusal }
        if policy.needsApproval {
            guard let approvedBy else { return "production: the request was not approved by a second manager" }
            if approvedBy == requester { return "production: \(requester) approved their own request" }
            if let refusal = policy.refusal(approvedBy, .approve) { return "approval by \(approvedBy) does not count: \(refusal)" }
        }
        if nthToday > policy.quotaPerDay {
            return "\(requester)'s request number \(nthToday) of the day passes quota_per_day: \(policy.quotaPerDay) (etc/operators.yaml)"
        }
        let jobs = context.configuration.jobs(in: batch)
        if jobs.isEmpty { return "the \(batch.rawValue) batch has no jobs" }
        if let job, !jobs.contains(where: { $0.name == job }) { return "\(job) is not a \(batch.rawValue) job" }
        return nil
    }

    private func finishEnded(_ db: PostgresConnection) throws {
        try db.execute("""
            WITH done AS (
                UPDATE nightshift.requests r SET state = 'finished', outcome = b.state
                FROM nightshift.batch_runs b
                WHERE r.state = 'queued' AND b.id = r.batch_run_id AND b.state <> 'running'
                RETURNING r.id, b.id AS batch_run_id, b.state)
            INSERT INTO nightshift.audit (actor, host, command, outcome, request_id, detail)
            SELECT $1, $2, 'finish', 'finished', id, format('batch run #%s %s', batch_run_id, state) FROM done
            """, [actor, context.identity.host])
    }

    private func audit(_ db: PostgresConnection, _ command: String, _ outcome: String, _ request: Int, _ detail: String) throws {
        try db.execute("""
            INSERT INTO nightshift.audit (actor, host, command, outcome, request_id, detail) VALUES ($1, $2, $3, $4, $5::bigint, $6)
            """, [actor, context.identity.host, command, outcome, String(request), detail])
    }
}

/// A request that could not be taken into the queue (the pass is retried).
struct RequestIntakeError: Error, CustomStringConvertible {
    let request: Int
    let problem: String
    var description: String { "request #\(request): \(problem)" }
}
