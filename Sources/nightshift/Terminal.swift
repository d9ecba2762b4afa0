import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The terminal the CLI writes to: whether stdout is one (a live block is drawn only then), whether
/// colour is wanted (a terminal, and `NO_COLOR` unset — no-color.org), and a live block of lines
/// at the bottom that is redrawn in place. Every other line (results, log lines) is printed above
/// the block through `line`, so the two never overwrite each other.
final class Terminal: @unchecked Sendable {
    static let shared = Terminal()

    let isInteractive: Bool
    let colors: Bool
    private let lock = NSLock()
    private var drawn = 0
    private var live: [String] = []
    private var lastDraw = Date.distantPast
    /// Redraws at most this often.
    static let redrawInterval = 0.25

    init(interactive: Bool = isatty(STDOUT_FILENO) == 1, environment: [String: String] = ProcessInfo.processInfo.environment) {
        isInteractive = interactive && environment["TERM"] != "dumb"
        colors = isInteractive && (environment["NO_COLOR"] ?? "").isEmpty
    }

    func green(_ text: String) -> String { colors ? "\u{1B}[32m\(text)\u{1B}[0m" : text }
    func red(_ text: String) -> String { colors ? "\u{1B}[31m\(text)\u{1B}[0m" : text }
    func yellow(_ text: String) -> String { colors ? "\u{1B}[33m\(text)\u{1B}[0m" : text }
    func dim(_ text: String) -> String { colors ? "\u{1B}[2m\(text)\u{1B}[0m" : text }

    /// Prints a line above the live block (to stdout, or stderr for log lines).
    func line(_ text: String, toStandardError: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        erase()
        let data = Data((text + "\n").utf8)
        if toStandardError { FileHandle.standardError.write(data) } else { FileHandle.standardOutput.write(data) }
        draw()
    }

    /// Replaces the live block (drawn only on a terminal, at most every `redrawInterval`).
    func setLive(_ lines: [String], force: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        live = lines
        guard isInteractive, force || Date().timeIntervalSince(lastDraw) >= Terminal.redrawInterval else { return }
        erase()
        draw()
    }

    /// Removes the live block for good.
    func endLive() {
        lock.lock()
        defer { lock.unlock() }
        erase()
        live = []
    }

    private func erase() {
        guard drawn > 0 else { return }
        // Up to the block's first line, then clear to the end of the screen.
        FileHandle.standardOutput.write(Data("\u{1B}[\(drawn)F\u{1B}[0J".utf8))
        drawn = 0
    }

    private func draw() {
        guard isInteractive, !live.isEmpty else { return }
        let width = terminalWidth()
        let text = live.map { String($0.prefix(width - 1)) }.joined(separator: "\n") + "\n"
        FileHandle.standardOutput.write(Data(text.utf8))
        drawn = live.count
        lastDraw = Date()
    }

    private func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 20 { return Int(size.ws_col) }
        return 120
    }
}

/// Log lines as `StreamLogHandler` writes them, printed above the live block of the terminal.
struct TerminalLogHandler: LogHandler {
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    let label: String

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let all = metadata.merging(explicit ?? [:]) { $1 }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.escaped("\($0.value)"))" }.joined(separator: " ")
        let stamp = ISO8601DateFormatter().string(from: Date())
        Terminal.shared.line("\(stamp) \(level) \(label):\(fields.isEmpty ? "" : " \(fields)") [\(source)] \(Self.escaped(message.description))",
                             toStandardError: true)
    }

    /// One log line is one line: control characters (a newline in a file name, an escape
    /// sequence) are written as `\n`, `\u{1b}`, never as themselves. (The JSON format escapes them too.)
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || (0x80..<0xA0).contains($0.value) }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value):
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// One JSON object per log line on stderr (`--log-format json`), for log collectors: time, level,
/// label, source, message and the metadata as string fields.
struct JSONLogHandler: LogHandler {
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    let label: String
    private static let lock = NSLock()

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        var object: [String: String] = [:]
        for (key, value) in metadata.merging(explicit ?? [:], uniquingKeysWith: { $1 }) { object[key] = "\(value)" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        object["time"] = formatter.string(from: Date())
        object["level"] = level.rawValue
        object["logger"] = label
        object["source"] = source
        object["message"] = message.description
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        JSONLogHandler.lock.lock()
        FileHandle.standardError.write(data)
        JSONLogHandler.lock.unlock()
    }
}
