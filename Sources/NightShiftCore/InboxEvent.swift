import Foundation

/// What an event file dropped into the inbox (`paths.inbox`) says happened.
public enum EventType: String, Sendable, CaseIterable, Codable {
    /// Finance closed the month: the monthly batch of that month may start (it waits for this).
    case monthEndCloseDone = "month_end_close_done"
    /// A data import into the ERP finished: the daily batch runs for that business date.
    case dataImportFinished = "data_import_finished"
    /// System maintenance is over: the daily batch runs for that business date.
    case maintenanceDone = "maintenance_done"
    /// A monitored figure crossed its threshold: the daily batch recalculates that business date.
    case thresholdCrossed = "threshold_crossed"

    /// The batch the event starts, unless the file names a job or batch (nil: it starts nothing
    /// itself; it satisfies a condition).
    public var batch: BatchKind? {
        switch self {
        case .monthEndCloseDone: nil
        case .dataImportFinished, .maintenanceDone, .thresholdCrossed: .daily
        }
    }
}

/// A valid event file.
public struct InboxEvent: Sendable, Equatable {
    public let type: EventType
    public let businessDate: LocalDate
    public let priority: Priority
    /// Who sent it (a system's name, e.g. `erp-finance`).
    public let source: String
    /// The job to run instead of the type's batch (one job, alone), if the file names one.
    public let job: String?
    public let note: String?

    public init(type: EventType, businessDate: LocalDate, priority: Priority, source: String, job: String? = nil, note: String? = nil) {
        self.type = type
        self.businessDate = businessDate
        self.priority = priority
        self.source = source
        self.job = job
        self.note = note
    }
}

/// Why an event file was rejected: the field, what is wrong with it and how to fix it. Written to
/// `rejected/<file>.reason`.
public struct EventRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public let field: String?
    public let line: Int?
    public let problem: String
    public let fix: String

    public init(field: String?, line: Int? = nil, problem: String, fix: String) {
        self.field = field
        self.line = line
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        let at = [line.map { "line \($0)" }, field.map { "field `\($0)`" }].compactMap { $0 }.joined(separator: ", ")
        return "\(at.isEmpty ? "" : "\(at): ")\(problem); fix: \(fix)"
    }
}

/// The rules an event's values must follow, apart from the file's syntax.
public enum InboxEventRules {
    /// A business date at most this many days before today (a month-end close of last month).
    public static let maxDaysBack = 45
    /// A business date is a day that has begun: at most today.
    public static let maxDaysAhead = 0
    public static let maxFileBytes = 64 * 1024

    /// Text a value may not look like: a path, or SQL. Values are names and notes, never either.
    public static func suspicious(_ value: String) -> String? {
        if value.hasPrefix("/") || value.hasPrefix("~/") || value.contains("../") || value.contains("..\\") || value.contains("\\") {
            return "looks like a file path"
        }
        if value.contains(";") || value.contains("--") || value.contains("/*") || value.contains("'") {
            return "contains SQL punctuation (; -- /* ')"
        }
        // A statement: a verb followed later by its clause word ("select … from", "drop table").
        let words = value.lowercased().split { !$0.isLetter && $0 != "_" }.map(String.init)
        let verbs: Set<String> = ["select", "insert", "update", "delete", "drop", "truncate", "alter", "create", "grant", "union"]
        let clauses: Set<String> = ["from", "into", "table", "set", "where", "select", "all", "on", "schema", "database"]
        if let verb = words.firstIndex(where: verbs.contains), words[(verb + 1)...].contains(where: clauses.contains) {
            return "looks like SQL (`\(words[verb]) …`)"
        }
        if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "contains control characters"
        }
        return nil
    }

    /// A name (source, job): letters, digits, `_`, `.`, `-`, at most 64, starting with a letter or digit.
    public static func isName(_ value: String) -> Bool {
        guard let first = value.unicodeScalars.first, value.unicodeScalars.count <= 64,
              CharacterSet.alphanumerics.contains(first), first.isASCII else { return false }
        return value.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.-".unicodeScalars.contains($0)) }
    }

    /// Checks the business date against today (in the configured zone).
    public static func dateProblem(_ date: LocalDate, today: LocalDate) -> String? {
        if date.dayNumber > today.dayNumber + maxDaysAhead { return "\(date) is in the future (today is \(today))" }
        if date.dayNumber < today.dayNumber - maxDaysBack { return "\(date) is more than \(maxDaysBack) days ago (today is \(today))" }
        return nil
    }
}

/// What became of an event file (`nightshift.events.state`): processed (its request made, if
/// any), or rejected with the reason (the file moved to rejected/ with a `.reason` beside it).
public enum EventFileState: String, Sendable, CaseIterable {
    case processed, rejected
}
