import CLibPQ

/// A completed result. Owns its `PGresult` and frees it exactly once.
///
/// Use it for small results (runner tables, counts); large data is streamed with
/// `PostgresConnection.copyOut`, never materialised here.
public final class QueryResult: @unchecked Sendable {
    private var handle: OpaquePointer?

    init(handle: OpaquePointer) { self.handle = handle }

    deinit { clear() }

    /// Frees the result; safe to call more than once.
    public func clear() {
        if let handle { PQclear(handle) }
        handle = nil
    }

    var isCopyOut: Bool { handle.map { PQresultStatus($0) == PGRES_COPY_OUT } ?? false }
    var isCopyIn: Bool { handle.map { PQresultStatus($0) == PGRES_COPY_IN } ?? false }

    public var rowCount: Int { handle.map { Int(PQntuples($0)) } ?? 0 }
    public var columnCount: Int { handle.map { Int(PQnfields($0)) } ?? 0 }

    /// Rows affected by INSERT/UPDATE/DELETE/COPY (0 when the command reports none).
    public var affectedRows: Int {
        guard let handle, let raw = PQcmdTuples(handle) else { return 0 }
        return Int(String(cString: raw)) ?? 0
    }

    public func columnName(_ column: Int) -> String {
        guard let handle, let name = PQfname(handle, Int32(column)) else { return "" }
        return String(cString: name)
    }

    public func columnIndex(_ name: String) -> Int? {
        (0..<columnCount).first { columnName($0) == name }
    }

    /// The text value of a cell, or nil for SQL NULL.
    public func string(_ row: Int, _ column: Int) -> String? {
        guard let handle, row < rowCount, column < columnCount else { return nil }
        if PQgetisnull(handle, Int32(row), Int32(column)) == 1 { return nil }
        return String(cString: PQgetvalue(handle, Int32(row), Int32(column)))
    }

    /// The text bytes of a cell (valid while this result lives), or nil for SQL NULL: a row
    /// written out byte for byte needs no String per value.
    public func bytes(_ row: Int, _ column: Int) -> UnsafeRawBufferPointer? {
        guard let handle, row < rowCount, column < columnCount else { return nil }
        if PQgetisnull(handle, Int32(row), Int32(column)) == 1 { return nil }
        let length = Int(PQgetlength(handle, Int32(row), Int32(column)))
        return UnsafeRawBufferPointer(start: PQgetvalue(handle, Int32(row), Int32(column)), count: length)
    }

    /// The type OID of a column (1700 numeric, 20/21/23 integers, 700/701 floats, 25 text, …).
    public func columnType(_ column: Int) -> UInt32 {
        guard let handle else { return 0 }
        return UInt32(PQftype(handle, Int32(column)))
    }

    public func string(_ row: Int, _ column: String) -> String? {
        columnIndex(column).flatMap { string(row, $0) }
    }

    public func int(_ row: Int, _ column: String) -> Int? { string(row, column).flatMap { Int($0) } }
    public func int(_ row: Int, _ column: Int) -> Int? { string(row, column).flatMap { Int($0) } }
    public func double(_ row: Int, _ column: String) -> Double? { string(row, column).flatMap { Double($0) } }
    public func bool(_ row: Int, _ column: String) -> Bool? { string(row, column).map { $0 == "t" } }
}
