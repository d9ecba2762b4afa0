import Foundation
import NightShiftCore
import NightShiftEngine
import PostgresClient

/// Follows jobs while they run (`run --once`, `status --watch`) on a thread of its own, from the
/// runner tables: a line per recorded change of a job's state (every transition, however short
/// the job), and — on a terminal only — a live line per running job (rows / total, %, rows per
/// second, ETA) redrawn in place at most four times a second. Piped, only the change lines.
final class ProgressMonitor: @unchecked Sendable {
    private let connect: () throws -> PostgresConnection
    private let batchRunID: () -> Int?
    private let terminal: Terminal
    private let interval: TimeInterval
    private let stopSignal = NSCondition()
    private var stopped = false
    private var finished = false
    /// The last transition printed; a watcher starts from the newest one (`startAtNewest`).
    private var lastChange = 0
    var startAtNewest = false
    /// The live line while no job runs (nil: none).
    var idleLine: String?

    /// - Parameter batchRunID: the batch run to follow (nil: every running batch run); asked on every look.
    init(connect: @escaping () throws -> PostgresConnection, batchRunID: @escaping () -> Int?, terminal: Terminal = .shared,
         interval: TimeInterval = Terminal.redrawInterval) {
        self.connect = connect
        self.batchRunID = batchRunID
        self.terminal = terminal
        self.interval = interval
    }

    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "nightshift-progress"
        thread.start()
    }

    /// Takes a last look (so the final states are printed), removes the live block and returns.
    func stop() {
        stopSignal.lock()
        stopped = true
        stopSignal.broadcast()
        while !finished { stopSignal.wait() }
        stopSignal.unlock()
        terminal.endLive()
    }

    private func loop() {
        var db: PostgresConnection?
        while true {
            stopSignal.lock()
            let last = stopped
            stopSignal.unlock()
            do {
                if db == nil || db?.isOpen == false {
                    db = try connect()
                    if startAtNewest && lastChange == 0 { lastChange = try BatchProgress.lastChange(db: db!) }
                }
                let batch = batchRunID()
                let changes = try BatchProgress.changes(db: db!, batchRunID: batch, after: lastChange)
                look(try BatchProgress.load(db: db!, batchRunID: batch), changes: changes)
            } catch {
                db?.close()
                db = nil // the database may be restarting: look again next time
            }
            if last { break }
            stopSignal.lock()
            if !stopped { _ = stopSignal.wait(until: Date().addingTimeInterval(interval)) }
            stopSignal.unlock()
        }
        db?.close()
        stopSignal.lock()
        finished = true
        stopSignal.broadcast()
        stopSignal.unlock()
    }

    func look(_ progress: BatchProgress, changes: [BatchProgress.Change]) {
        for change in changes {
            lastChange = max(lastChange, change.id)
            // "planned" is the job being created, not news.
            if change.state == .pending && change.reason == "planned" { continue }
            terminal.line(changeLine(change))
        }
        let running = progress.jobs.filter { $0.state == .running }.map(liveLine)
        terminal.setLive(running.isEmpty ? idleLine.map { [$0] } ?? [] : running)
    }

    private func changeLine(_ change: BatchProgress.Change) -> String {
        let clock = DateFormatter.localTime.string(from: Date())
        let name = "\(change.job) [P\(change.priority)]"
        let why = change.reason.map { ": \($0)" } ?? ""
        switch change.state {
        case .running:
            return "\(clock) \(terminal.dim("▶")) \(name) started" + (change.attempts > 1 ? " (attempt \(change.attempts))" : "")
        case .succeeded, .succeededWithRejects:
            return "\(clock) \(terminal.green("✓")) \(name) \(change.state.rawValue): \(formatCount(change.rows)) rows in \(Self.duration(change.seconds))"
        case .failed, .timedOut:
            return "\(clock) \(terminal.red("✗")) \(name) \(change.state.rawValue)\(why)"
        case .skipped:
            return "\(clock) \(terminal.yellow("–")) \(name) skipped\(why)"
        case .pending:
            return "\(clock) \(terminal.yellow("…")) \(name) back in the queue\(why)"
        case .paused, .retrying:
            return "\(clock) \(terminal.yellow("…")) \(name) \(change.state.rawValue)\(why)"
        }
    }

    func liveLine(_ job: BatchProgress.Job) -> String {
        var text = "  \(job.job) [P\(job.priority)] \(formatCount(job.rows))"
        if let total = job.expectedTotal { text += " / ~\(formatCount(total)) rows" + (job.percent.map { String(format: " %3.0f%%", $0) } ?? "") }
        else { text += " rows" }
        if let rate = job.rowsPerSecond { text += "  \(formatCount(Int(rate.rounded()))) rows/s" }
        if let eta = job.etaSeconds { text += "  ETA \(Self.duration(eta))" }
        text += "  (\(Self.duration(job.seconds)))"
        return text
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return String(format: "%d min %02d s", whole / 60, whole % 60) }
        return String(format: "%d h %02d min", whole / 3600, (whole % 3600) / 60)
    }
}

extension DateFormatter {
    /// HH:mm:ss on this machine's clock, for progress lines.
    static let localTime: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "HH:mm:ss"
        return formatter
    }()
}
