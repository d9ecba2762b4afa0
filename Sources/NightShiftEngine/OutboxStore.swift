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
        let result = try db.execute("""
            WITH queued AS (
                INSERT INTO nightshift.mail_outbox (kind, dedupe_key, batch_run_id, message_id, subject, envelope_from, envelope_to,
                                                    message, next_attempt_at, created_at)
                VALUES ($1, $2, $3::bigint, $4, $5, $6, $7::text[], $8, $9::timestamptz, $9::timestamptz)
                ON CONFLICT (dedupe_key) DO NOTHING
                RETURNING id
            ), recorded AS (
                INSERT INTO nightshift.mail_transitions (mail_id, from_state, to_state, attempt, runner, at)
                SELECT id, NULL, 'queued', 0, $10, $9::timestamptz FROM queued
            )
            SELECT id FROM queued
            """, [kind, dedupeKey, batchRunID.map(String.init), message.messageID, message.subject,
                  MailMessage.address(in: message.from), pgArray(message.to.map(MailMessage.address(in:))), message.rendered(),
                  iso8601(now), runner])
        return result.rowCount == 1 ? result.int(0, "id") : nil
    }

    /// Claims the next message due at `now` (queued and due, or sending under an expired lease)
    /// for `runner`, with a lease of `leaseSeconds` (database time). nil when nothing is due.
    public func claimNext(now: Date, runner: String, leaseSeconds: Int) throws -> OutboxMail? {
        let result = try db.execute("""
            WITH due AS (
                SELECT id, state FROM nightshift.mail_outbox
                WHERE (state = 'queued' AND next_attempt_at <= $1::timestamptz)
                   OR (state = 'sending' AND lease_expires_at < clock_timestamp())
                ORDER BY next_attempt_at, id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE nightshift.mail_outbox m
                SET state = 'sending', claimed_by = $2, lease_expires_at = clock_timestamp() + make_interval(secs => $3::int),
                    attempts = m.attempts + 1
                FROM due WHERE m.id = due.id
                RETURNING m.id, due.state AS from_state, m.kind, m.subject, m.envelope_from, m.envelope_to, m.message, m.attempts
            ), recorded AS (
                INSERT INTO nightshift.mail_transitions (mail_id, from_state, to_state, attempt, runner, error, at)
                SELECT id, from_state, 'sending', attempts, $2,
                       CASE WHEN from_state = 'sending' THEN 'the lease of the previous sender expired during its delivery' END,
                       $1::timestamptz
                FROM claimed
            )
            SELECT id, kind, subject, envelope_from, array_to_string(envelope_to, E'\\n') AS envelope_to, message, attempts FROM claimed
            """, [iso8601(now), runner, String(leaseSeconds)])
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
        let result = try db.execute("""
            WITH done AS (
                UPDATE nightshift.mail_outbox
                SET state = $4, claimed_by = NULL, lease_expires_at = NULL,
                    next_attempt_at = COALESCE($5::timestamptz, next_attempt_at),
                    sent_at = CASE WHEN $4 = 'sent' THEN $9::timestamptz END,
                    last_reply = COALESCE($7, last_reply), last_error = $8
                WHERE id = $1 AND state = 'sending' AND claimed_by = $2 AND attempts = $3
                RETURNING id
            ), recorded AS (
                INSERT INTO nightshift.mail_transitions (mail_id, from_state, to_state, attempt, runner, reply_code, reply, curl_code, error, at)
                SELECT id, 'sending', $4, $3::int, $2, $6::int, $7, $10::int, $8, $9::timestamptz FROM done
            )
            SELECT id FROM done
            """, [String(mail.id), runner, String(mail.attempt), state.rawValue, nextAttemptAt.map(iso8601), replyCode.map(String.init),
                  reply, error, iso8601(now), curlCode.map(String.init)])
        return result.rowCount == 1
    }

    /// Queues a dead letter again (`nightshift mail retry`), its attempts counted afresh and due
    /// at once whatever a runner's clock says. False when `id` is not a dead letter.
    public func requeue(_ id: Int, now: Date, by who: String) throws -> Bool {
        let result = try db.execute("""
            WITH again AS (
                UPDATE nightshift.mail_outbox SET state = 'queued', attempts = 0, next_attempt_at = '-infinity'
                WHERE id = $1 AND state = 'dead'
                RETURNING id
            ), recorded AS (
                INSERT INTO nightshift.mail_transitions (mail_id, from_state, to_state, attempt, runner, error, at)
                SELECT id, 'dead', 'queued', 0, $3, 'queued again by ' || $3, $2::timestamptz FROM again
            )
            SELECT id FROM again
            """, [String(id), iso8601(now), who])
        return result.rowCount == 1
    }

    /// The outbox by state, the oldest waiting message, and the waiting and dead messages (oldest first, at most `limit`).
    public func status(limit: Int = 10) throws -> OutboxStatus {
        var status = OutboxStatus()
        let counts = try db.execute("""
            SELECT state, count(*) AS n, extract(epoch FROM min(created_at) FILTER (WHERE state IN ('queued', 'sending')))::float8 AS oldest
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
        let rows = try db.execute("""
            SELECT id, kind, subject, array_to_string(envelope_to, E'\\n') AS recipients, state, attempts, last_error, last_reply,
                   extract(epoch FROM next_attempt_at)::float8 AS next_attempt_at, extract(epoch FROM created_at)::float8 AS created_at,
                   extract(epoch FROM sent_at)::float8 AS sent_at
            FROM nightshift.mail_outbox WHERE state = ANY ($1::text[])
            ORDER BY CASE WHEN $3 THEN -id ELSE id END LIMIT $2
            """, [pgArray(states.map(\.rawValue)), String(limit), newestFirst ? "true" : "false"])
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
