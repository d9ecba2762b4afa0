import Foundation
import NightShiftCore
import NightShiftMail
import PostgresClient

/// A message in the outbox table, as a mail sender claimed it.
public struct OutboxMail: Sendable, Equatable {
    public let id: Int
    public let kind: String
    public let subject: String
    public let envelopeFrom: String
    public let envelopeTo: [String]
    public let message: Data
    /// This attempt's number (1 for the first).
    public let attempt: Int
}

/// What `status` shows of the outbox.
public struct OutboxStatus: Sendable, Equatable {
    public struct Letter: Sendable, Equatable {
        public let id: Int
        public let kind: String
        public let subject: String
        public let recipients: [String]
        public let state: MailState
        public let attempts: Int
        public let nextAttemptAt: Date?
        public let lastError: String?
        public let lastReply: String?
        public let createdAt: Date
        public let sentAt: Date?
    }
    public var counts: [MailState: Int] = [:]
    /// The oldest message not sent yet (queued or sending).
    public var oldestWaiting: Date?
    /// Messages waiting or dead, oldest first (at most a few).
    public var letters: [Letter] = []
    public var waiting: Int { (counts[.queued] ?? 0) + (counts[.sending] ?? 0) }
}

/// The mail outbox table (`nightshift.mail_outbox`, migration 0010): messages are queued in the
/// transaction of what they report, claimed by one sender at a time under a lease, and every
/// change of state is a row in `nightshift.mail_transitions`. Writes by a sender are fenced by its
/// claim (runner and attempt number), so a sender whose lease expired cannot record over another.
public struct OutboxStore {
    let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    /// Queues `message` unless a message with `dedupeKey` exists already (then returns nil).
    @discardableResult
    public func enqueue(kind: String, dedupeKey: String, batchRunID: Int?, message: MailMessage, now: Date, by runner: String) throws -> Int? {
        let result = try db.query("""
            WITH queued AS (
                INSERT INTO nightshift.mail_outbox (kind, dedupe_key, batch_run_id, message_id, subject, envelope_from, envelope_to,
                                                    message, next_attempt_at, created_at)
                VALUES (\(kind), \(dedupeKey), \(batchRunID)::bigint, \(message.messageID), \(message.subject), \(MailMessage.address(in: message.from)), \(message.to.map(MailMessage.address(in:)))::text[], \(message.rendered()), \(now)::timestamptz, \(now)::timestamptz)
                ON CONFLICT (dedupe_key) DO NOTHING
                RETURNING id
            ), recorded AS (
                INSERT INTO nightshift.mail_transitions (mail_id, from_state, to_state, attempt, runner, at)
                SELECT id, NULL, \(MailState.queued), 0, \(runner), \(now)::timestamptz FROM queued
            )
            SELECT id FROM queued
            """)
        return result.rowCount == 1 ? result.int(0, "id") : nil
    }

    /// Claims the next message due at `now` (queued and due, or sending under an expired lease)
    /// for `runner`, with a lease of `leaseSeconds` (database time). nil when nothing is due.
    public func claimNext(now: Date, runner: String, leaseSeconds: Int) throws -> OutboxMail? {
        let result = try db.query("""
            WITH due AS (
                SELECT id, state FROM nightshift.mail_outbox
                WHERE (state = \(MailState.queued) AND next_attempt_at <= \(now)::timestamptz)
                   OR (state = \(MailState.sending) AND lease_expires_at < clock_timestamp())
                ORDER BY next_attempt_at, id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE nightshift.mail_outbox m
                SET state = \(MailState.sending), claimed_by = \(runner), lease_expires_at = clock_timestamp() + make_interval(secs => \(leaseSeconds)::int),
                    attempts = m.attempts + 1
                FROM due WHERE m.id = due.id
                RETURNING m.id, due.state AS from_state, m.kind, m.subject, m.envelope_from, m.envelope_to, m.message, m.attempts
            ), recorded AS (
                INSERT INTO nightshift.mail_transitions (mail_id, from_state, to_state, attempt, runner, error, at)
                SELECT id, from_state, \(MailState.sending), attempts, \(runner),
                       CASE WHEN from_state = \(MailState.sending) THEN 'the lease of the previous sender expired during its delivery' END,
                       \(now)::timestamptz
                FROM claimed
            )
            SELECT id, kind, subject, envelope_from, array_to_string(envelope_to, E'\\n') AS envelope_to, message, attempts FROM claimed
            """)
        guard result.rowCount == 1 else { return nil }
        let row = result.row(0, of: "nightshift.mail_outbox")
        return OutboxMail(id: try row.int("id"), kind: try row.text("kind"), subject: try row.text("subject"),
                          envelopeFrom: try row.text("envelope_from"),
                          envelopeTo: try row.text("envelope_to").split(separator: "\n").map(String.init),
                          message: Data(try row.text("message").utf8), attempt: try row.int("attempts"))
    }

    /// Records the server's acceptance; `refused` names the recipients it did not take (the others
    /// got the message). False when the claim was lost (another sender has it now).
    @discardableResult
    public func delivered(_ mail: OutboxMail, replyCode: Int, reply: String, refused: String? = nil, now: Date, runner: String) throws -> Bool {
        try finish(mail, to: .sent, nextAttemptAt: nil, replyCode: replyCode, reply: reply, curlCode: nil, error: refused, now: now, runner: runner)
    }

    /// Records a failed attempt: queued again at `retryAt`, or a dead letter when `retryAt` is nil.
    @discardableResult
    public func failed(_ mail: OutboxMail, retryAt: Date?, replyCode: Int?, reply: String?, curlCode: Int?, error: String,
                       now: Date, runner: String) throws -> Bool {
        try finish(mail, to: retryAt == nil ? .dead : .queued, nextAttemptAt: retryAt, replyCode: replyCode, reply: reply,
                   curlCode: curlCode, error: error, now: now, runner: runner)
    }

    private func finish(_ mail: OutboxMail, to state: MailState, nextAttemptAt: Date?, replyCode: Int?, reply: String?, curlCode: Int?,
                        error: String?, now: Date, runner: String) throws -> Bool {
        try Transitions.check(mail: .sending, to: state)
        let result = try db.query("""
            WITH done AS (
                UPDATE nightshift.mail_outbox
                SET state = \(state), claimed_by = NULL, lease_expires_at = NULL,
                    next_attempt_at = COALESCE(\(nextAttemptAt)::timestamptz, next_attempt_at),
                    sent_at = CASE WHEN \(state == .sent) THEN \(now)::timestamptz END,
                    last_reply = COALESCE(\(reply), last_reply), last_error = \(error)
                WHERE id = \(mail.id) AND state = \(MailState.sending) AND claimed_by = \(runner) AND attempts = \(mail.attempt)
                RETURNING id
            ), recorded AS (
                INSERT INTO nightshift.mail_transitions (mail_id, from_state, to_state, attempt, runner, reply_code, reply, curl_code, error, at)
                SELECT id, \(MailState.sending), \(state), \(mail.attempt)::int, \(runner), \(replyCode)::int, \(reply), \(curlCode)::int, \(error), \(now)::timestamptz FROM done
            )
            SELECT id FROM done
            """)
        return result.rowCount == 1
    }

    /// Queues a dead letter again (`nightshift mail retry`), its attempts counted afresh and due
    /// at once whatever a runner's clock says. False when `id` is not a dead letter.
    public func requeue(_ id: Int, now: Date, by who: String) throws -> Bool {
        try Transitions.check(mail: .dead, to: .queued)
        let result = try db.query("""
            WITH again AS (
                UPDATE nightshift.mail_outbox SET state = \(MailState.queued), attempts = 0, next_attempt_at = '-infinity'
                WHERE id = \(id) AND state = \(MailState.dead)
                RETURNING id
            ), recorded AS (
                INSERT INTO nightshift.mail_transitions (mail_id, from_state, to_state, attempt, runner, error, at)
                SELECT id, \(MailState.dead), \(MailState.queued), 0, \(who), 'queued again by ' || \(who), \(now)::timestamptz FROM again
            )
            SELECT id FROM again
            """)
        return result.rowCount == 1
    }

    /// The outbox by state, the oldest waiting message, and the waiting and dead messages (oldest first, at most `limit`).
    public func status(limit: Int = 10) throws -> OutboxStatus {
        var status = OutboxStatus()
        let counts = try db.query("""
            SELECT state, count(*) AS n, extract(epoch FROM min(created_at) FILTER (WHERE state = ANY(\(MailState.waiting))))::float8 AS oldest
            FROM nightshift.mail_outbox GROUP BY state
            """)
        // A state no MailState knows is left out here; `status` lists its rows under "needs a look".
        for row in counts.rows(of: "nightshift.mail_outbox", id: "state") {
            guard let state = try? row.value("state", as: MailState.self) else { continue }
            status.counts[state] = try row.optionalInt("n")
            if let oldest = try row.optionalDate("oldest") {
                status.oldestWaiting = min(status.oldestWaiting ?? oldest, oldest)
            }
        }
        status.letters = try letters(states: [.queued, .sending, .dead], limit: limit, newestFirst: false)
        return status
    }

    /// Messages in `states`, oldest or newest first, at most `limit`.
    public func letters(states: [MailState] = MailState.allCases, limit: Int, newestFirst: Bool) throws -> [OutboxStatus.Letter] {
        let rows = try db.query("""
            SELECT id, kind, subject, array_to_string(envelope_to, E'\\n') AS recipients, state, attempts, last_error, last_reply,
                   extract(epoch FROM next_attempt_at)::float8 AS next_attempt_at, extract(epoch FROM created_at)::float8 AS created_at,
                   extract(epoch FROM sent_at)::float8 AS sent_at
            FROM nightshift.mail_outbox WHERE state = ANY (\(states.map(\.rawValue))::text[])
            ORDER BY CASE WHEN \(newestFirst) THEN -id ELSE id END LIMIT \(limit)
            """)
        return try rows.decode(of: "nightshift.mail_outbox") { row in
            let state = try row.value("state", as: MailState.self)
            // -infinity: due at once (a retried dead letter).
            let date = { (column: String) in try row.optionalDouble(column).flatMap { $0.isFinite ? Date(timeIntervalSince1970: $0) : nil } }
            return OutboxStatus.Letter(id: try row.int("id"), kind: try row.text("kind"), subject: try row.text("subject"),
                                       recipients: try row.text("recipients").split(separator: "\n").map(String.init), state: state,
                                       attempts: try row.int("attempts"), nextAttemptAt: state == .queued ? try date("next_attempt_at") : nil,
                                       lastError: try row.optionalText("last_error"), lastReply: try row.optionalText("last_reply"),
                                       createdAt: try date("created_at") ?? Date(timeIntervalSince1970: 0), sentAt: try date("sent_at"))
        }
    }
}
