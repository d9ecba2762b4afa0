import Foundation

/// A statement whose interpolated values become bind parameters: `"... WHERE id = \(id)"` is sent
/// as `... WHERE id = $1` with `id` bound, never glued into the text. Fragments compose
/// (`"\(fence) AND state = ANY(\(states))"`): their values are renumbered where they land, so no
/// one keeps `$n` positions by hand. Identifiers enter only as `SQLIdentifier` (validated
/// configuration); text that is SQL itself only through `unsafeSQL:`, spelled out where it is used.
/// (After postgres-nio's `PostgresQuery`.)
public struct SQL: Sendable, Equatable, ExpressibleByStringInterpolation, CustomStringConvertible {
    enum Piece: Sendable, Equatable {
        case text(String)
        case value(String?)
    }

    private(set) var pieces: [Piece]

    /// SQL text as it is: no value is bound. For statements read from the project's sql/ files and
    /// for text built from other `SQL` values' rendering only.
    public init(unsafeSQL text: String) { pieces = [.text(text)] }

    public init(stringLiteral value: String) { pieces = [.text(value)] }

    public init(stringInterpolation: StringInterpolation) { pieces = stringInterpolation.pieces }

    /// The text with `$1…$n` and the values in that order.
    public var rendered: (text: String, values: [String?]) {
        var text = ""
        var values: [String?] = []
        for piece in pieces {
            switch piece {
            case let .text(part): text += part
            case let .value(value):
                values.append(value)
                text += "$\(values.count)"
            }
        }
        return (text, values)
    }

    public var description: String { rendered.text }

    /// `parts` joined by `separator` (", ", " AND "), values renumbered.
    public static func joined(_ parts: [SQL], separator: String) -> SQL {
        var result = SQL(unsafeSQL: "")
        for (index, part) in parts.enumerated() {
            if index > 0 { result.pieces.append(.text(separator)) }
            result.pieces += part.pieces
        }
        return result
    }

    public static func + (lhs: SQL, rhs: SQL) -> SQL {
        var result = lhs
        result.pieces += rhs.pieces
        return result
    }

    public struct StringInterpolation: StringInterpolationProtocol, Sendable {
        var pieces: [Piece] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            pieces.reserveCapacity(2 * interpolationCount + 1)
        }

        public mutating func appendLiteral(_ literal: String) {
            if case let .text(last)? = pieces.last {
                pieces[pieces.count - 1] = .text(last + literal)
            } else {
                pieces.append(.text(literal))
            }
        }

        /// A bound value, NULL when nil.
        public mutating func appendInterpolation<Value: SQLValue>(_ value: Value?) {
            pieces.append(.value(value?.sqlText))
        }

        /// A bound value.
        public mutating func appendInterpolation<Value: SQLValue>(_ value: Value) {
            pieces.append(.value(value.sqlText))
        }

        /// A fragment: its text and its values, renumbered here.
        public mutating func appendInterpolation(_ fragment: SQL) {
            for piece in fragment.pieces {
                if case let .text(text) = piece { appendLiteral(text) } else { pieces.append(piece) }
            }
        }

        /// A table or column name from validated configuration, quoted.
        public mutating func appendInterpolation(_ identifier: SQLIdentifier) {
            appendLiteral(identifier.quoted)
        }

        /// A column list: each identifier quoted, separated by commas.
        public mutating func appendInterpolation(_ identifiers: [SQLIdentifier]) {
            appendLiteral(identifiers.quotedList)
        }

        /// SQL text as it is (a statement from the project's sql/ files): nothing is bound.
        public mutating func appendInterpolation(unsafeSQL text: String) {
            appendLiteral(text)
        }
    }

    /// A PostgreSQL array literal (`{"a","b",NULL}`) of text values.
    static func arrayLiteral(_ values: [String?]) -> String {
        "{" + values.map { value in
            guard let value else { return "NULL" }
            return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ",") + "}"
    }
}

/// A value that can be bound: its text form as PostgreSQL reads it (nil: NULL).
public protocol SQLValue: Sendable {
    var sqlText: String? { get }
}

extension String: SQLValue { public var sqlText: String? { self } }
extension Substring: SQLValue { public var sqlText: String? { String(self) } }
extension Int: SQLValue { public var sqlText: String? { String(self) } }
extension Int32: SQLValue { public var sqlText: String? { String(self) } }
extension Int64: SQLValue { public var sqlText: String? { String(self) } }
extension UInt16: SQLValue { public var sqlText: String? { String(self) } }
extension Double: SQLValue { public var sqlText: String? { String(self) } }
extension Bool: SQLValue { public var sqlText: String? { self ? "true" : "false" } }
extension Optional: SQLValue where Wrapped: SQLValue { public var sqlText: String? { self?.sqlText } }
/// A list is one array parameter (`= ANY(\(states))`, with a cast where the server cannot infer
/// the element type).
extension Array: SQLValue where Element: SQLValue { public var sqlText: String? { SQL.arrayLiteral(map(\.sqlText)) } }

/// A timestamp, bound as seconds since the epoch with microseconds (`to_timestamp` is not needed:
/// PostgreSQL reads it for a timestamptz through the ISO form below).
extension Date: SQLValue {
    public var sqlText: String? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: self)
    }
}

/// A schema-qualified or plain SQL identifier, validated when it is made (lower-case letters,
/// digits and underscores, one optional schema part) and always rendered quoted.
public struct SQLIdentifier: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let parts: [String]

    /// nil when `name` is not `name` or `schema.name` of `[a-z_][a-z0-9_]*` parts (at most 63 bytes each).
    public init?(_ name: String) {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), parts.allSatisfy({ part in
            (1...63).contains(part.utf8.count) && (try? /[a-z_][a-z0-9_]*/.wholeMatch(in: part)) != nil
        }) else { return nil }
        self.parts = parts
    }

    /// A column name as the database's catalog reports it (`pg_attribute.attname`): any text of
    /// 1 to 63 bytes without NUL, quoted as it is (a `"` doubled). nil for anything else.
    public init?(catalogName name: String) {
        guard (1...63).contains(name.utf8.count), !name.utf8.contains(0) else { return nil }
        parts = [name]
    }

    private init(parts: [String]) { self.parts = parts }

    /// The same table name in `schema` instead of its own.
    public func inSchema(_ schema: SQLIdentifier) -> SQLIdentifier {
        SQLIdentifier(parts: [schema.parts.last!, parts.last!])
    }

    public var quoted: String { parts.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: ".") }
    public var description: String { parts.joined(separator: ".") }
}

extension Array where Element == SQLIdentifier {
    /// `"a", "b", "c"`: a column list.
    public var quotedList: String { map(\.quoted).joined(separator: ", ") }
}

extension PostgresConnection {
    /// Runs one statement, its interpolated values bound.
    @discardableResult
    public func query(_ sql: SQL) throws -> QueryResult {
        let (text, values) = sql.rendered
        return try execute(text, values)
    }
}
