import Foundation

/// Where a line of a job attempt's log came from.
public enum JobLogSource: String, Sendable, CaseIterable, Codable {
    /// The runner's own lines about the job (started, resumed, a bad record set aside, how it ended).
    case runner
    /// A NOTICE, WARNING or other message the PostgreSQL server sent while the job's SQL ran
    /// (`RAISE NOTICE` in a job's script, "table … does not exist, skipping").
    case server
    /// How far the job has come: rows done, at most one line every few seconds.
    case progress
}

/// How much a log line matters (the runner's log levels; a server message's severity maps onto them).
public enum JobLogLevel: String, Sendable, CaseIterable, Codable, Comparable {
    case debug, info, notice, warning, error

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }

    /// A server message's severity (`DEBUG1`…`DEBUG5`, `LOG`, `INFO`, `NOTICE`, `WARNING`, `ERROR`, …).
    public init(serverSeverity severity: String) {
        switch severity.uppercased() {
        case let s where s.hasPrefix("DEBUG"): self = .debug
        case "LOG", "INFO": self = .info
        case "NOTICE": self = .notice
        case "WARNING": self = .warning
        default: self = .error
        }
    }
}

/// One line of a job attempt's log, as kept in `nightshift.job_log` and shown by `nightshift logs`
/// and the console. `seq` numbers the lines of one attempt from 1.
public struct JobLogLine: Sendable, Equatable, Codable {
    public let attempt: Int
    public let seq: Int
    public let at: Date
    public let level: JobLogLevel
    public let source: JobLogSource
    public let message: String

    public init(attempt: Int, seq: Int, at: Date, level: JobLogLevel, source: JobLogSource, message: String) {
        self.attempt = attempt
        self.seq = seq
        self.at = at
        self.level = level
        self.source = source
        self.message = message
    }

    /// Longest message kept (a longer one is cut, saying so).
    public static let maxMessageCharacters = 8_000
    /// Most lines kept for one attempt; past it the lines are counted, and one line says how many were not kept.
    public static let maxLinesPerAttempt = 20_000

    /// `12:03:05.120  notice   server    message`, the time in the business time zone.
    public func text(in zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.hour, .minute, .second, .nanosecond], from: at)
        let millis = (parts.nanosecond ?? 0) / 1_000_000
        let time = String(format: "%02d:%02d:%02d.%03d", parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0, millis)
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        return "\(time)  \(pad(level.rawValue, 8)) \(pad(source.rawValue, 9)) \(message)"
    }
}
