import CLibPQ

/// A running `COPY ... TO STDOUT`, read one row at a time.
///
/// `next()` returns a buffer that stays valid until the following call; the stream frees every
/// libpq buffer and drains the final results itself, also when abandoned early.
public final class CopyOutStream: @unchecked Sendable {
    private let connection: PostgresConnection
    private let sql: String
    private var current: UnsafeMutablePointer<CChar>?
    private var finished = false

    init(connection: PostgresConnection, sql: String) throws {
        self.connection = connection
        self.sql = sql
        let conn = try connection.rawHandle(.copyOut, sql)
        let result = try connection.check(PQexec(conn, sql), sql: sql, operation: .copyOut)
        defer { result.clear() }
        guard result.isCopyOut else {
            finished = true
            throw PostgresError(operation: .copyOut, sqlState: nil,
                                message: "the statement is not a COPY ... TO STDOUT",
                                hint: "wrap the query as COPY (SELECT ...) TO STDOUT", context: sql)
        }
    }

    deinit { close() }

    /// The next row (including its trailing newline), or nil at the end of the data.
    public func next() throws -> UnsafeRawBufferPointer? {
        releaseCurrent()
        if finished { return nil }
        let conn = try connection.rawHandle(.copyOut, sql)
        var buffer: UnsafeMutablePointer<CChar>?
        let length = PQgetCopyData(conn, &buffer, 0)
        if length > 0, let buffer {
            current = buffer
            return UnsafeRawBufferPointer(start: buffer, count: Int(length))
        }
        finished = true
        if length == -2 {
            let error = connection.connectionError(conn, operation: .copyOut, sql: sql)
            drain(conn)
            throw error
        }
        // length == -1: the COPY is over; its final status tells whether it succeeded.
        var failure: PostgresError?
        while let result = PQgetResult(conn) {
            if PQresultStatus(result) != PGRES_COMMAND_OK && failure == nil {
                failure = connection.failure(from: result, operation: .copyOut, sql: sql)
            }
            PQclear(result)
        }
        if let failure { throw failure }
        return nil
    }

    /// Abandons the stream: cancels a COPY still running and drains its results. Idempotent.
    public func close() {
        releaseCurrent()
        guard !finished, let conn = try? connection.rawHandle(.copyOut, sql) else { finished = true; return }
        finished = true
        if let cancel = PQgetCancel(conn) {
            var errbuf = [CChar](repeating: 0, count: 256)
            _ = PQcancel(cancel, &errbuf, 256)
            PQfreeCancel(cancel)
        }
        var buffer: UnsafeMutablePointer<CChar>?
        while PQgetCopyData(conn, &buffer, 0) > 0 {
            if let buffer { PQfreemem(buffer) }
            buffer = nil
        }
        drain(conn)
    }

    private func releaseCurrent() {
        if let current { PQfreemem(current) }
        current = nil
    }

    private func drain(_ conn: OpaquePointer) {
        while let result = PQgetResult(conn) { PQclear(result) }
    }
}
