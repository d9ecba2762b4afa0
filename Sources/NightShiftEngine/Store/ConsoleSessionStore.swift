import Foundation
import NightShiftCore
import Packaging
import PostgresClient

/// A secret of the console (a one-time login link's, a session cookie's): 32 random bytes from the
/// system's CSPRNG as 64 hex digits. Only its SHA-256 is stored.
public struct ConsoleSecret: Sendable, Equatable {
    public let text: String

    public init() {
        var generator = SystemRandomNumberGenerator()
        text = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// A secret as presented (a link, a cookie): nil unless it is 64 lowercase hex digits.
    public init?(presented: String) {
        guard presented.utf8.count == 64, presented.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            return nil
        }
        text = presented
    }

    public var sha256: String {
        let hash = SHA256()
        hash.update(Array(text.utf8))
        // libcrypto's digest does not fail on a live process; if it ever did, no stored hash matches "".
        return (try? hash.finalize()) ?? ""
    }

    /// The CSRF token of a session: derived from its secret, so forms can carry it and nothing is stored.
    public var csrfToken: String {
        let hash = SHA256()
        hash.update(Array("nightshift-console-csrf:\(text)".utf8))
        return (try? hash.finalize()) ?? ""
    }
}

/// `nightshift.console_sessions`: one-time login links from `nightshift console login` and the
/// console sessions they open (sql/runner/0018_console_sessions.sql).
public struct ConsoleSessionStore {
    let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    /// A row's life: a link issued by `console login`, a session opened by using it, closed by signing out
    /// (an open session past `expires_at` counts as ended).
    public enum State: String, Sendable, CaseIterable { case issued, open, closed }

    /// A person signed in to the console.
    public struct Session: Sendable, Equatable {
        public let id: Int
        public let account: String
        /// The role now (etc/operators.yaml as the runner last synced it); nil when no longer listed.
        public let role: Role?
        public let expiresAt: Date
    }

    /// On the person's own login: records a one-time link for who the database says they are.
    public func issueLogin(_ login: ConsoleSecret, minutes: Int, host: String, command: String) throws
        -> (account: String, role: String?, refusal: String?) {
        let result = try db.query("""
            SELECT account, role, refusal FROM nightshift.issue_console_login(\(login.sha256), \(minutes), \(host), \(command))
            """)
        return (result.string(0, "account") ?? "", result.string(0, "role"), result.string(0, "refusal"))
    }

    /// Whose link this is, while it may still be used (for the page that asks to sign in).
    public func pendingLogin(_ login: ConsoleSecret) throws -> (account: String, role: String)? {
        let result = try db.query("""
            SELECT account, role FROM nightshift.console_sessions
            WHERE login_sha256 = \(login.sha256) AND state = 'issued' AND login_expires_at > clock_timestamp()
            """)
        guard result.rowCount == 1, let account = result.string(0, "account"), let role = result.string(0, "role") else { return nil }
        return (account, role)
    }

    /// Uses a link (once): it becomes a session of `minutes` whose secret is `session`. Audited.
    /// Nil when the link is unknown, used or expired.
    public func open(_ login: ConsoleSecret, session: ConsoleSecret, minutes: Int, from address: String) throws -> Session? {
        try db.transaction { () -> Session? in
            let result = try db.query("""
                UPDATE nightshift.console_sessions
                SET state = 'open', session_sha256 = \(session.sha256), opened_at = clock_timestamp(), opened_from = \(address),
                    expires_at = clock_timestamp() + make_interval(mins => \(minutes))
                WHERE login_sha256 = \(login.sha256) AND state = 'issued' AND login_expires_at > clock_timestamp()
                RETURNING id, account
                """)
            guard result.rowCount == 1, let id = result.int(0, "id"), let account = result.string(0, "account") else { return nil }
            try db.query("""
                INSERT INTO nightshift.audit (actor, host, command, outcome, detail)
                VALUES (\(account), \(address), 'console: sign in', 'signed_in', \("console session #\(id) opened for \(minutes) min"))
                """)
            return try self.session(session)
        }
    }

    /// The open, unexpired session with this secret, with the person's role now.
    public func session(_ secret: ConsoleSecret) throws -> Session? {
        let result = try db.query("""
            SELECT s.id, s.account, o.role, extract(epoch FROM s.expires_at)::float8 AS expires_at
            FROM nightshift.console_sessions s LEFT JOIN nightshift.operators o ON o.account = s.account
            WHERE s.session_sha256 = \(secret.sha256) AND s.state = 'open' AND s.expires_at > clock_timestamp()
            """)
        return try result.rows(of: "nightshift.console_sessions").first.map { row in
            Session(id: try row.int("id"), account: try row.text("account"), role: try row.optionalValue("role", as: Role.self),
                    expiresAt: try row.date("expires_at"))
        }
    }

    /// Signs out (audited); nothing when the session is not open.
    public func close(_ secret: ConsoleSecret, from address: String) throws {
        try db.query("""
            WITH closed AS (
                UPDATE nightshift.console_sessions SET state = 'closed', closed_at = clock_timestamp()
                WHERE session_sha256 = \(secret.sha256) AND state = 'open' RETURNING id, account)
            INSERT INTO nightshift.audit (actor, host, command, outcome, detail)
            SELECT account, \(address), 'console: sign out', 'signed_out', 'console session #' || id || ' closed' FROM closed
            """)
    }

    /// Runs `body` in one transaction as the session's person: the gate, request functions and
    /// audit see them as the actor (`nightshift.acting_account()`), as for their own commands.
    public func acting<T>(as secret: ConsoleSecret, _ body: () throws -> T) throws -> T {
        try db.transaction {
            try db.query("SELECT set_config('nightshift.console_session', \(secret.text), true)")
            return try body()
        }
    }
}
