import CLibPQ

/// A running `COPY ... FROM STDIN`, fed a buffer at a time.
///
/// `write` sends bytes in the COPY format the statement names (rows need not be aligned with
/// buffers); `finish` ends the data and returns the rows the server stored; `abort` ends the COPY
/// with an error so the server stores nothing. Abandoned without `finish`, it aborts itself.
public final class CopyInStream: @unchecked Sendable {
    private let connection: PostgresConnection
    private let sql: String
    private var finished = false

    init(connection: PostgresConnection, sql: String) throws {
        self.connection = connection
        self.sql = sql
        let conn = try connection.rawHandle(.copyIn, sql)
        let result = try connection.check(PQexec(conn, sql), sql: sql, operation: .copyIn)
        defer { result.clear() }
        guard result.isCopyIn else {
            finished = true
            throw PostgresError(operation: .copyIn, sqlState: nil, message: "the statement is not a COPY ... FROM STDIN",
                                hint: "write it as COPY table (columns) FROM STDIN", context: sql)
        }
    }

    deinit { abort("the COPY was abandoned") }

    /// Sends the next bytes of the data.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        let conn = try connection.rawHandle(.copyIn, sql)
        guard !finished else {
            throw PostgresError(operation: .copyIn, sqlState: nil, message: "the COPY is already finished", context: sql)
        }
        let status = bytes.withMemoryRebound(to: CChar.self) { PQputCopyData(conn, $0.baseAddress, Int32($0.count)) }
        if status != 1 {
            finished = true
            throw connection.connectionError(conn, operation: .copyIn, sql: sql)
        }
    }

    /// Ends the data; returns the number of rows stored. A row the server refuses (bad value,
    /// constraint) fails here with its SQLSTATE, and nothing of the COPY is stored.
    @discardableResult
    public func finish() throws -> Int {
        let conn = try connection.rawHandle(.copyIn, sql)
        guard !finished else {
            throw PostgresError(operation: .copyIn, sqlState: nil, message: "the COPY is already finished", context: sql)
        }
        finished = true
        if PQputCopyEnd(conn, nil) != 1 { throw connection.connectionError(conn, operation: .copyIn, sql: sql) }
        return try results(conn)
    }

    /// Ends the COPY with an error: the server stores none of its rows. Idempotent.
    public func abort(_ reason: String) {
        guard !finished, let conn = try? connection.rawHandle(.copyIn, sql) else { finished = true; return }
        finished = true
        _ = PQputCopyEnd(conn, reason)
        _ = try? results(conn)
    }

    private func results(_ conn: OpaquePointer) throws -> Int {
        var failure: PostgresError?
        var rows = 0
        while let result = PQgetResult(conn) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                rows = PQcmdTuples(result).flatMap { Int(String(cString: $0)) } ?? 0
            } else if failure == nil {
                failure = connection.failure(from: result, operation: .copyIn, sql: sql)
            }
            PQclear(result)
        }
        if let failure { throw failure }
        return rows
    }
}
