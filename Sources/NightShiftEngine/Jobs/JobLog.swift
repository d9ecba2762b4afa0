import Foundation
import Logging
import NightShiftCore
import PostgresClient

/// The log of one job attempt while it runs: lines are numbered and held here until the runner
/// writes them to `nightshift.job_log` (the heartbeat every few seconds, and once more when the
/// attempt ends; `JobLogStore.append`). A write that fails puts its lines back for the next one;
/// a line written twice is kept once. Thread-safe: the job's thread, its connection's notices and
/// the heartbeat all use it.
public final class JobLog: @unchecked Sendable {
    public let jobRunID: Int
    public let attempt: Int
    private let clock: RunnerClock
    private let lock = NSLock()
    private var pending: [JobLogLine] = []
    private var nextSeq = 1
    private var dropped = 0
    private var lastProgress: Date?
    private var lastProgressRows: Int?
    /// Real seconds between two progress lines.
    static let progressEverySeconds = 5.0

    init(jobRunID: Int, attempt: Int, clock: RunnerClock) {
        self.jobRunID = jobRunID
        self.attempt = attempt
        self.clock = clock
    }

    /// Adds a line (cut to `JobLogLine.maxMessageCharacters`; past `JobLogLine.maxLinesPerAttempt`
    /// lines only counted, and the last kept line says how many were not kept).
    public func append(_ level: JobLogLevel, _ source: JobLogSource, _ message: String) {
        // PostgreSQL text cannot hold NUL.
        let message = message.contains("\0") ? message.replacingOccurrences(of: "\0", with: "\\0") : message
        let text = message.count > JobLogLine.maxMessageCharacters
            ? String(message.prefix(JobLogLine.maxMessageCharacters)) + " … (cut: \(message.count) characters)" : message
        let now = clock.now()
        lock.withLock {
            // The last seq is kept for the line that says how many were not kept.
            guard nextSeq < JobLogLine.maxLinesPerAttempt else {
                dropped += 1
                return
            }
            pending.append(JobLogLine(attempt: attempt, seq: nextSeq, at: now, level: level, source: source, message: text))
            nextSeq += 1
        }
    }

    /// A progress line, at most one every `progressEverySeconds`; with `force` (the end) unless it says what the last one said.
    public func progress(rows: Int, force: Bool = false) {
        let now = Date()
        let due: Bool = lock.withLock {
            guard force ? lastProgressRows != rows : lastProgress.map({ now.timeIntervalSince($0) >= Self.progressEverySeconds }) ?? true
            else { return false }
            lastProgress = now
            lastProgressRows = rows
            return true
        }
        if due { append(.info, .progress, "\(rows) row\(rows == 1 ? "" : "s") done") }
    }

    /// A notice from the job's connection.
    func notice(_ notice: PostgresNotice) {
        let code = notice.sqlState.map { $0 == "00000" ? "" : " [SQLSTATE \($0)]" } ?? ""
        // "… does not exist, skipping" (IF EXISTS, IF NOT EXISTS) is kept at debug level.
        let level = notice.sqlState == "00000" && notice.message.hasSuffix(", skipping") ? .debug : JobLogLevel(serverSeverity: notice.severity)
        append(level, .server, "\(notice.severity): \(notice)\(code)")
    }

    /// The lines not yet written, and the count of lines not kept (which `finish` adds as a line).
    func take() -> [JobLogLine] {
        lock.withLock {
            let lines = pending
            pending = []
            return lines
        }
    }

    /// Gives back lines whose write failed (they are written with the next).
    func giveBack(_ lines: [JobLogLine]) {
        guard !lines.isEmpty else { return }
        lock.withLock { pending = lines + pending }
    }

    /// The attempt has ended: one last line says how many lines were not kept, if any.
    func finish() {
        let (count, seq): (Int, Int) = lock.withLock { (dropped, nextSeq) }
        guard count > 0 else { return }
        lock.withLock {
            pending.append(JobLogLine(attempt: attempt, seq: seq, at: clock.now(), level: .warning, source: .runner,
                                      message: "\(count) more line\(count == 1 ? "" : "s") not kept: an attempt keeps at most \(JobLogLine.maxLinesPerAttempt)"))
            nextSeq += 1
            dropped = 0
        }
    }

    /// Writes what is pending on `db` (not the job's own connection: its transaction may roll back).
    /// On failure the lines are kept for the next write and the error is thrown.
    func flush(to db: PostgresConnection) throws {
        let lines = take()
        guard !lines.isEmpty else { return }
        do {
            try JobLogStore(db: db).append(jobRunID: jobRunID, lines)
        } catch {
            giveBack(lines)
            throw error
        }
    }

    /// A logger that writes to `base` as before and to this log too (the job's own lines, debug and up).
    func logger(over base: Logger) -> Logger {
        var logger = base
        // The multiplexer passes a line to each handler at or above that handler's own level.
        logger.handler = MultiplexLogHandler([base.handler, JobLogHandler(log: self)])
        return logger
    }
}

/// Writes a job's log lines into its attempt's `JobLog`: the message and its metadata as
/// `key=value` (the job's name is left out: the log is the job's).
struct JobLogHandler: LogHandler {
    let log: JobLog
    var logLevel: Logger.Level = .debug
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let all = metadata.merging(explicit ?? [:]) { $1 }.filter { $0.key != "job" }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let level: JobLogLevel = switch level {
        case .trace, .debug: .debug
        case .info: .info
        case .notice: .notice
        case .warning: .warning
        case .error, .critical: .error
        }
        self.log.append(level, .runner, fields.isEmpty ? message.description : "\(message) \(fields)")
    }
}
