import Foundation

/// A value read back from the database that the code cannot take: which table, which row, which
/// column, what it holds and what was expected. Decoding never traps: it returns or throws this.
public struct RowDecodingError: Error, CustomStringConvertible, Sendable, Hashable {
    /// The table (or view) the row comes from, e.g. `nightshift.batch_runs`.
    public let table: String
    /// The row's key (its `id`, or whatever names it), nil when the query returned no such row.
    public let rowID: String?
    public let column: String
    /// What the column holds (nil: SQL NULL).
    public let value: String?
    /// What the code accepts there, e.g. "one of running, succeeded, failed, cancelled".
    public let expected: String

    public init(table: String, rowID: String?, column: String, value: String?, expected: String) {
        self.table = table
        self.rowID = rowID
        self.column = column
        self.value = value
        self.expected = expected
    }

    /// The row, for "needs a look" lists: `nightshift.batch_runs row 12`.
    public var row: String { "\(table) row \(rowID ?? "?")" }

    public var description: String {
        let shown = value.map { "'\($0.count > 80 ? String($0.prefix(80)) + "…" : $0)'" } ?? "NULL"
        return "\(row): \(column) holds \(shown), which this NightShift cannot read (expected \(expected)); "
            + "correct the row, or run the NightShift version that wrote it"
    }
}

/// One row of a result, read column by column into typed values. Every accessor either returns a
/// value or throws a `RowDecodingError` naming the table, the row's id, the column and the value.
///
/// ```
/// for row in result.rows(of: "nightshift.batch_runs") {
///     let state = try row.value("state", as: BatchState.self)
///     let finished = try row.optionalDouble("finished_at")
/// }
/// ```
public struct Row: Sendable {
    public let result: QueryResult
    public let index: Int
    public let table: String
    /// The column that names the row in errors (its primary key, usually `id`).
    public let idColumn: String

    public init(result: QueryResult, index: Int, table: String, idColumn: String = "id") {
        self.result = result
        self.index = index
        self.table = table
        self.idColumn = idColumn
    }

    /// The row's id as text (nil when the query did not select it or returned no row).
    public var id: String? { result.columnIndex(idColumn).flatMap { result.string(index, $0) } }

    public func error(_ column: String, _ value: String?, expected: String) -> RowDecodingError {
        RowDecodingError(table: table, rowID: id, column: column, value: value, expected: expected)
    }

    /// The cell's text, nil for NULL; throws only when there is no such row or column.
    public func optionalText(_ column: String) throws -> String? {
        guard index < result.rowCount else {
            throw error(column, nil, expected: "a row (the query returned \(result.rowCount))")
        }
        guard let position = result.columnIndex(column) else {
            throw error(column, nil, expected: "a column the query selects")
        }
        return result.string(index, position)
    }

    /// A NOT NULL text column.
    public func text(_ column: String) throws -> String {
        guard let value = try optionalText(column) else { throw error(column, nil, expected: "a value") }
        return value
    }

    public func optionalInt(_ column: String) throws -> Int? {
        guard let text = try optionalText(column) else { return nil }
        guard let value = Int(text) else { throw error(column, text, expected: "an integer") }
        return value
    }

    public func int(_ column: String) throws -> Int {
        guard let value = try optionalInt(column) else { throw error(column, nil, expected: "an integer") }
        return value
    }

    public func optionalDouble(_ column: String) throws -> Double? {
        guard let text = try optionalText(column) else { return nil }
        guard let value = Double(text) else { throw error(column, text, expected: "a number") }
        return value
    }

    public func double(_ column: String) throws -> Double {
        guard let value = try optionalDouble(column) else { throw error(column, nil, expected: "a number") }
        return value
    }

    public func optionalBool(_ column: String) throws -> Bool? {
        switch try optionalText(column) {
        case nil: return nil
        case "t": return true
        case "f": return false
        case let other: throw error(column, other, expected: "a boolean")
        }
    }

    public func bool(_ column: String) throws -> Bool {
        guard let value = try optionalBool(column) else { throw error(column, nil, expected: "a boolean") }
        return value
    }

    /// A seconds-since-1970 column (`extract(epoch FROM …)::float8`) as an instant.
    public func optionalDate(_ column: String) throws -> Date? {
        try optionalDouble(column).map(Date.init(timeIntervalSince1970:))
    }

    public func date(_ column: String) throws -> Date { Date(timeIntervalSince1970: try double(column)) }

    /// A text column that holds one of an enum's cases (a state, a kind).
    public func value<T: RawRepresentable & CaseIterable>(_ column: String, as type: T.Type) throws -> T where T.RawValue == String {
        guard let value = try optionalValue(column, as: type) else { throw error(column, nil, expected: Self.cases(type)) }
        return value
    }

    public func optionalValue<T: RawRepresentable & CaseIterable>(_ column: String, as type: T.Type) throws -> T? where T.RawValue == String {
        guard let text = try optionalText(column) else { return nil }
        guard let value = T(rawValue: text) else { throw error(column, text, expected: Self.cases(type)) }
        return value
    }

    /// An integer column that holds one of an enum's cases (a priority).
    public func value<T: RawRepresentable & CaseIterable>(_ column: String, as type: T.Type) throws -> T where T.RawValue == Int {
        guard let value = try optionalValue(column, as: type) else { throw error(column, nil, expected: Self.cases(type)) }
        return value
    }

    public func optionalValue<T: RawRepresentable & CaseIterable>(_ column: String, as type: T.Type) throws -> T? where T.RawValue == Int {
        guard let text = try optionalText(column) else { return nil }
        guard let number = Int(text), let value = T(rawValue: number) else { throw error(column, text, expected: Self.cases(type)) }
        return value
    }

    static func cases<T: RawRepresentable & CaseIterable>(_ type: T.Type) -> String {
        "one of " + type.allCases.map { "\($0.rawValue)" }.joined(separator: ", ")
    }
}

extension QueryResult {
    /// Row `index` of `table`, named in errors by its `id` column.
    public func row(_ index: Int, of table: String, id: String = "id") -> Row {
        Row(result: self, index: index, table: table, idColumn: id)
    }

    /// Every row, each named in errors by `table` and its `id` column.
    public func rows(of table: String, id: String = "id") -> [Row] {
        (0..<rowCount).map { Row(result: self, index: $0, table: table, idColumn: id) }
    }

    /// Decodes every row with `body`. A row that cannot be decoded throws, unless `unreadable` is
    /// given: then that row is left out, its error handed to `unreadable`, and the others decoded.
    public func decode<T>(of table: String, id: String = "id", unreadable: ((RowDecodingError) -> Void)? = nil,
                          _ body: (Row) throws -> T) throws -> [T] {
        var decoded: [T] = []
        decoded.reserveCapacity(rowCount)
        for index in 0..<rowCount {
            do {
                decoded.append(try body(Row(result: self, index: index, table: table, idColumn: id)))
            } catch let error as RowDecodingError {
                guard let unreadable else { throw error }
                unreadable(error)
            }
        }
        return decoded
    }

    /// The first column of the first row as an integer (`SELECT count(*)`, `RETURNING id`).
    public func scalarInt(of table: String) throws -> Int {
        let row = Row(result: self, index: 0, table: table)
        return try row.int(columnName(0))
    }
}
