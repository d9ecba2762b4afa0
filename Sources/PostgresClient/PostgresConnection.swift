import Foundation
import CLibPQ

/// One libpq connection. The only owner of its `PGconn`.
///
/// libpq calls block: use a connection from one thread at a time, on a thread you own (the runner's
/// batch thread, the CLI's main thread), never from Swift's cooperative pool.
public final class PostgresConnection: @unchecked Sendable {
    private var conn: OpaquePointer?
    public let target: String
    /// libpq's cancel handle, made once on the owning thread; `cancel()` may use it from any thread.
    private var canceller: OpaquePointer?
    private let cancelLock = NSLock()

    /// Connects with a libpq conninfo string or URI. An empty string means "the standard PG* variables".
    /// - Parameter user: when given, logs in as this role whatever the conninfo says (a person's
    ///   command connects as its operating-system account; the server decides whether it may).
    public init(conninfo: String, user: String? = nil) throws {
        target = PostgresConnection.redacted(conninfo) + (user.map { " as \($0)" } ?? "")
        let keywords: [String?] = ["dbname"] + (user == nil ? [] : ["user"]) + [nil]
        let values: [String?] = [conninfo] + (user.map { [$0] } ?? []) + [nil]
        // expand_dbname: the conninfo is read in the dbname slot, and the keywords after it win.
        let connection = withCStrings(keywords) { keys in
            withCStrings(values) { vals in PQconnectdbParams(keys, vals, 1) }
        }
        guard let conn = connection else {
            throw PostgresError(operation: .connect, sqlState: nil, message: "libpq could not allocate a connection", context: target)
        }
        if PQstatus(conn) != CONNECTION_OK {
            let message = String(cString: PQerrorMessage(conn))
            PQfinish(conn)
            throw PostgresError(operation: .connect, sqlState: "08001", message: message,
                                hint: "check DATABASE_URL / PGHOST, PGPORT, PGUSER, PGDATABASE and that the server is running (scripts/pg start)",
                                context: target)
        }
        self.conn = conn
        canceller = PQgetCancel(conn)
        // Notices are not errors and never reach stderr: they go to `onNotice` when one is set.
        PQsetNoticeReceiver(conn, { argument, result in
            guard let argument, let result else { return }
            let connection = Unmanaged<PostgresConnection>.fromOpaque(argument).takeUnretainedValue()
            guard let handler = connection.noticeHandler else { return }
            func field(_ code: UInt8) -> String? { PQresultErrorField(result, Int32(code)).map { String(cString: $0) } }
            handler(PostgresNotice(severity: field(UInt8(ascii: "V")) ?? field(UInt8(ascii: "S")) ?? "NOTICE",
                                   sqlState: field(UInt8(ascii: "C")), message: field(UInt8(ascii: "M")) ?? "",
                                   detail: field(UInt8(ascii: "D")), hint: field(UInt8(ascii: "H"))))
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    private let noticeLock = NSLock()
    private var _onNotice: (@Sendable (PostgresNotice) -> Void)?
    private var noticeHandler: (@Sendable (PostgresNotice) -> Void)? { noticeLock.withLock { _onNotice } }

    /// Called with each message the server sends that is not an error (`RAISE NOTICE`, a WARNING,
    /// "… does not exist, skipping"), on the thread running the statement; nil: they are dropped.
    public var onNotice: (@Sendable (PostgresNotice) -> Void)? {
        get { noticeHandler }
        set { noticeLock.withLock { _onNotice = newValue } }
    }

    deinit { close() }

    /// Closes the connection; safe to call more than once.
    public func close() {
        cancelLock.lock()
        if let canceller { PQfreeCancel(canceller) }
        canceller = nil
        cancelLock.unlock()
        if let conn { PQfinish(conn) }
        conn = nil
    }

    /// Asks the server to cancel the statement this connection is running (if any). Safe to call
    /// from another thread while the owner is blocked in a query: the query then fails with
    /// SQLSTATE 57014. Returns false when the request could not be sent.
    @discardableResult
    public func cancel() -> Bool {
        cancelLock.lock()
        defer { cancelLock.unlock() }
        guard let canceller else { return false }
        var buffer = [CChar](repeating: 0, count: 256)
        return PQcancel(canceller, &buffer, Int32(buffer.count)) == 1
    }

    public var isOpen: Bool { conn.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Whether a transaction is open (or failed and not yet rolled back) on this connection.
    public var inTransaction: Bool {
        guard let conn else { return false }
        let status = PQtransactionStatus(conn)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// The backend process id (useful for tests that kill a session).
    public var backendPID: Int32 { conn.map { PQbackendPID($0) } ?? 0 }

    private func live(_ operation: PostgresError.Operation, _ sql: String) throws -> OpaquePointer {
        guard let conn else {
            throw PostgresError(operation: operation, sqlState: "08003", message: "connection is closed", context: sql)
        }
        return conn
    }

    /// Runs one statement with bound text parameters (`$1`, `$2`, …). Parameters are never spliced into SQL.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws -> QueryResult {
        let conn = try live(.execute, sql)
        let result: OpaquePointer? = withCStrings(parameters) { values in
            PQexecParams(conn, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        return try check(result, sql: sql, operation: .execute)
    }

    /// Runs a script of one or more statements without parameters (simple query protocol).
    /// Returns the result of the last statement. Values reach scripts through `setParameters`.
    @discardableResult
    public func executeScript(_ sql: String) throws -> QueryResult {
        let conn = try live(.execute, sql)
        guard PQsendQuery(conn, sql) == 1 else {
            throw connectionError(conn, operation: .execute, sql: sql)
        }
        var last: QueryResult?
        var failure: PostgresError?
        while let next = PQgetResult(conn) {
            do {
                last = try check(next, sql: sql, operation: .execute)
            } catch let error as PostgresError {
                if failure == nil { failure = error }
            }
        }
        if let failure { throw failure }
        guard let last else {
            throw PostgresError(operation: .execute, sqlState: nil, message: "the script returned no result", context: sql)
        }
        return last
    }

    /// Sets `nightshift.<name>` run-time parameters for the current transaction with bound values,
    /// so scripts and COPY queries read them with `current_setting(...)` instead of having values
    /// spliced into their text.
    /// All of them in one round trip.
    public func setParameters(_ values: [(String, String)]) throws {
        guard !values.isEmpty else { return }
        let calls = values.indices.map { "set_config($\(2 * $0 + 1), $\(2 * $0 + 2), true)" }.joined(separator: ", ")
        try execute("SELECT \(calls)", values.flatMap { ["nightshift.\($0.0)", $0.1] })
    }

    /// Runs `body` inside BEGIN/COMMIT; rolls back when it throws and rethrows the original error.
    /// Called inside a transaction already, `body` joins it (the outer one commits or rolls back).
    /// With `script: true`, `begin` is a script run with the simple query protocol (it starts with
    /// BEGIN and may go on with more statements, saving round trips); its failure rolls back too.
    public func transaction<T>(begin: String = "BEGIN", script: Bool = false, _ body: () throws -> T) throws -> T {
        if inTransaction { return try body() }
        if script {
            do {
                try executeScript(begin)
            } catch {
                if isOpen && inTransaction { _ = try? execute("ROLLBACK") }
                throw error
            }
        } else {
            try execute(begin)
        }
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if isOpen { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    /// Streams `COPY (...) TO STDOUT`: calls `row` once per row with a buffer valid only during
    /// the call. Memory stays flat whatever the size of the result. Returns the number of rows.
    @discardableResult
    public func copyOut(_ sql: String, row: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let stream = try CopyOutStream(connection: self, sql: sql)
        var rows = 0
        while let buffer = try stream.next() {
            try row(buffer)
            rows += 1
        }
        return rows
    }

    /// Starts a `COPY ... TO STDOUT` and returns a pull-based stream of its rows.
    public func copyOutStream(_ sql: String) throws -> CopyOutStream {
        try CopyOutStream(connection: self, sql: sql)
    }

    /// Starts a `COPY ... FROM STDIN` and returns the stream to feed it.
    public func copyInStream(_ sql: String) throws -> CopyInStream {
        try CopyInStream(connection: self, sql: sql)
    }

    /// A NOTIFY received on a channel this connection LISTENs to.
    public struct Notification: Sendable, Equatable {
        public let channel: String
        public let payload: String
        /// The backend that sent it.
        public let senderPID: Int32
    }

    /// Waits up to `timeout` seconds for notifications on the channels this connection LISTENs
    /// to (`LISTEN channel` first), and returns them; empty when none came in time. Throws when the
    /// connection is lost (SQLSTATE 08006): the caller reconnects, LISTENs again, and looks for
    /// what it may have missed.
    public func notifications(waitingUpTo timeout: TimeInterval) throws -> [Notification] {
        try notifications(waitingUpTo: timeout, orUntilReadable: nil)
    }

    /// As `notifications(waitingUpTo:)`, and also returns (empty) as soon as `descriptor` is
    /// readable: one thread waits for the database and, say, a directory watch at once.
    public func notifications(waitingUpTo timeout: TimeInterval, orUntilReadable descriptor: Int32?) throws -> [Notification] {
        let context = "(waiting for notifications)"
        let conn = try live(.execute, context)
        let deadline = Date().addingTimeInterval(max(0, min(timeout, 3600)))
        while true {
            let received = drainNotifications(conn)
            if !received.isEmpty { return received }
            guard PQstatus(conn) == CONNECTION_OK else {
                throw PostgresError(operation: .execute, sqlState: "08006", message: String(cString: PQerrorMessage(conn)), context: context)
            }
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return [] }
            let socket = PQsocket(conn)
            guard socket >= 0 else { throw connectionError(conn, operation: .execute, sql: context) }
            var descriptors = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0)]
            if let descriptor { descriptors.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&descriptors, nfds_t(descriptors.count), Int32((left * 1000).rounded(.up)))
            if ready < 0 && errno != EINTR {
                throw PostgresError(operation: .execute, sqlState: nil, message: "poll() on the connection failed: errno \(errno)",
                                    context: context)
            }
            if descriptors.count > 1 && descriptors[1].revents != 0 { return drainNotifications(conn) }
            // Readable: take in what arrived (a notification, or the server closing the session).
            if ready > 0, PQconsumeInput(conn) != 1 {
                throw PostgresError(operation: .execute, sqlState: "08006", message: String(cString: PQerrorMessage(conn)), context: context)
            }
        }
    }

    private func drainNotifications(_ conn: OpaquePointer) -> [Notification] {
        var received: [Notification] = []
        while let raw = PQnotifies(conn) {
            received.append(Notification(channel: String(cString: raw.pointee.relname), payload: String(cString: raw.pointee.extra),
                                         senderPID: raw.pointee.be_pid))
            PQfreemem(raw)
        }
        return received
    }

    // MARK: internals shared with CopyOutStream

    func rawHandle(_ operation: PostgresError.Operation, _ sql: String) throws -> OpaquePointer {
        try live(operation, sql)
    }

    func check(_ result: OpaquePointer?, sql: String, operation: PostgresError.Operation) throws -> QueryResult {
        guard let result else {
            throw connectionError(try live(operation, sql), operation: operation, sql: sql)
        }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY, PGRES_COPY_OUT, PGRES_COPY_IN, PGRES_SINGLE_TUPLE:
            return QueryResult(handle: result)
        default:
            let error = failure(from: result, operation: operation, sql: sql)
            PQclear(result)
            throw error
        }
    }

    /// The error a failed result carries. libpq reports a lost connection as a result without
    /// SQLSTATE: that is a connection failure (08006), so it is classified as transient.
    func failure(from result: OpaquePointer, operation: PostgresError.Operation, sql: String) -> PostgresError {
        let error = PostgresConnection.error(from: result, operation: operation, sql: sql)
        guard error.sqlState == nil, let conn, PQstatus(conn) != CONNECTION_OK || Self.saysConnectionLost(error.message) else { return error }
        return PostgresError(operation: operation, sqlState: "08006", message: error.message, detail: error.detail,
                             hint: error.hint, context: error.context)
    }

    func connectionError(_ conn: OpaquePointer, operation: PostgresError.Operation, sql: String) -> PostgresError {
        let message = String(cString: PQerrorMessage(conn))
        let state = PQstatus(conn) == CONNECTION_OK && !Self.saysConnectionLost(message) ? nil : "08006"
        return PostgresError(operation: operation, sqlState: state, message: message, context: sql)
    }

    /// libpq's own words for a connection the server dropped (a crashed or stopped server). The
    /// connection's status may still read OK when they come (the loss is seen while sending or
    /// reading the reply); they are a connection failure all the same (08006).
    static func saysConnectionLost(_ message: String) -> Bool {
        ["server closed the connection unexpectedly", "no connection to the server", "could not send data to server",
         "could not receive data from server", "connection to server was lost", "SSL SYSCALL error: EOF detected"]
            .contains { message.contains($0) }
    }

    static func error(from result: OpaquePointer, operation: PostgresError.Operation, sql: String) -> PostgresError {
        func field(_ code: Int32) -> String? {
            guard let raw = PQresultErrorField(result, code) else { return nil }
            return String(cString: raw)
        }
        let primary = field(Int32(UInt8(ascii: "M"))) ?? String(cString: PQresultErrorMessage(result))
        return PostgresError(operation: operation,
                             sqlState: field(Int32(UInt8(ascii: "C"))),
                             message: primary,
                             detail: field(Int32(UInt8(ascii: "D"))),
                             hint: field(Int32(UInt8(ascii: "H"))),
                             context: sql)
    }

    /// Hides passwords in conninfo strings and URIs so they never reach logs or errors.
    /// The connection target for messages, never its secrets: libpq itself parses the conninfo
    /// (URI or key = value, quoted or not) and only where-to and who are kept, in key=value form.
    public static func redacted(_ conninfo: String) -> String {
        if conninfo.isEmpty { return "(PG* environment)" }
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &error) else {
            if let error { PQfreemem(error) }
            return "(a connection string libpq cannot parse)"
        }
        defer { PQconninfoFree(options) }
        let shown: Set<String> = ["host", "hostaddr", "port", "dbname", "user", "sslmode", "target_session_attrs", "application_name"]
        var parts: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            let key = String(cString: keyword)
            if shown.contains(key), let value = option.pointee.val {
                parts.append("\(key)=\(String(cString: value))")
            }
            option = option.advanced(by: 1)
        }
        return parts.isEmpty ? "(PG* environment)" : parts.joined(separator: " ")
    }
}

/// Calls `body` with a C array of C strings (NULL for nil) that lives for the duration of the call.
func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var owned: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0) } }
    defer { owned.forEach { free($0) } ; owned.removeAll() }
    return body(owned.map { UnsafePointer($0) })
}
