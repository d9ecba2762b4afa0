import Foundation
/// Every failure that comes out of libpq, with the native code and the context it happened in.
///
/// `sqlState` is PostgreSQL's five-character SQLSTATE when the server sent one (for example
/// `42703` undefined column, `08006` connection failure). `context` is the SQL text or the
/// connection target (never a password).
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public enum Operation: String, Sendable {
        case connect, execute, copyOut, copyIn, transaction
    }

    public let operation: Operation
    public let sqlState: String?
    public let message: String
    public let detail: String?
    public let hint: String?
    public let context: String

    public init(operation: Operation, sqlState: String?, message: String,
                detail: String? = nil, hint: String? = nil, context: String) {
        self.operation = operation
        self.sqlState = sqlState
        self.message = message.trimmingTrailingNewlines()
        self.detail = detail
        self.hint = hint
        self.context = context
    }

    public var description: String {
        var text = "PostgreSQL \(operation.rawValue) failed"
        if let sqlState { text += " [SQLSTATE \(sqlState)]" }
        text += ": \(message)"
        if let detail { text += " (detail: \(detail))" }
        if let hint { text += " (hint: \(hint))" }
        let shown = context.count > 300 ? String(context.prefix(300)) + "…" : context
        text += " — while running: \(shown.replacingOccurrences(of: "\n", with: " "))"
        return text
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var s = self
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return s
    }
}

/// A message from the server that is not an error: a NOTICE, WARNING, INFO, LOG or DEBUG, with its
/// SQLSTATE (`00000`, `01000`, …) and its detail and hint when it has them.
public struct PostgresNotice: Sendable, Equatable, CustomStringConvertible {
    /// Not localized (`NOTICE`, `WARNING`, …).
    public let severity: String
    public let sqlState: String?
    public let message: String
    public let detail: String?
    public let hint: String?

    public init(severity: String, sqlState: String?, message: String, detail: String? = nil, hint: String? = nil) {
        self.severity = severity
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
    }

    public var description: String {
        var text = message
        if let detail { text += " (detail: \(detail))" }
        if let hint { text += " (hint: \(hint))" }
        return text
    }
}
