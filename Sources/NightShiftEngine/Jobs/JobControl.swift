import Foundation
import NightShiftCore
import PostgresClient

/// Why the runner asks a running job to stop.
public enum StopReason: Sendable, Equatable, CustomStringConvertible {
    /// The runner is stopping (signal, --until): release the job for resumption.
    case shutdown
    /// Another runner took the job over: write nothing more.
    case leaseLost
    /// The job's timeout or its batch's window passed.
    case deadline(String)
    /// The decision model asked it to pause at its next checkpoint (window, preemption, load):
    /// release the slot; it resumes from the checkpoint when allowed.
    case pause(String)

    public var description: String {
        switch self {
        case .shutdown: "the runner is stopping"
        case .leaseLost: "the lease was lost to another runner"
        case let .deadline(reason): reason
        case let .pause(reason): reason
        }
    }
}

/// Thrown at a checkpoint when the runner asked the job to stop.
public struct JobStopped: Error, CustomStringConvertible, Sendable {
    public let reason: StopReason
    public var description: String { "stopped at a checkpoint: \(reason)" }
}

/// Shared between a job's worker thread and the runner's heartbeat: stop requests, the attempt's
/// deadline, its progress, and the connection whose statement to cancel.
public final class JobControl: @unchecked Sendable {
    private let lock = NSLock()
    private var reason: StopReason?
    private var rows = 0
    private var connection: PostgresConnection?
    public let deadline: Date?
    let deadlineReason: String
    let clock: RunnerClock
    /// This attempt's log (written to the database by the heartbeat and at the attempt's end).
    public let log: JobLog

    init(deadline: Date?, deadlineReason: String?, clock: RunnerClock, log: JobLog) {
        self.deadline = deadline
        self.deadlineReason = deadlineReason ?? "deadline"
        self.clock = clock
        self.log = log
    }

    /// The first request wins: a job stopped for its deadline stays stopped for its deadline.
    public func requestStop(_ stop: StopReason) {
        lock.lock()
        if reason == nil { reason = stop }
        lock.unlock()
    }

    public var stopReason: StopReason? {
        lock.lock()
        defer { lock.unlock() }
        return reason
    }

    /// Past the deadline? Then the stop reason becomes the deadline.
    @discardableResult
    func checkDeadline() -> Bool {
        guard let deadline, clock.now() >= deadline else { return false }
        requestStop(.deadline(deadlineReason))
        return true
    }

    func checkpoint() throws {
        checkDeadline()
        if let reason = stopReason { throw JobStopped(reason: reason) }
    }

    /// Rows done so far in this attempt (for `status`).
    public var progressRows: Int {
        lock.lock()
        defer { lock.unlock() }
        return rows
    }

    /// Records the rows done so far (and a progress line in the job's log every few seconds).
    public func setProgress(rows: Int) {
        lock.lock()
        self.rows = rows
        lock.unlock()
        log.progress(rows: rows)
    }

    func attach(_ db: PostgresConnection?) {
        lock.lock()
        connection = db
        lock.unlock()
    }

    /// Cancels the statement the job is running (it then fails with SQLSTATE 57014), for a job
    /// that has no checkpoint before its statement ends.
    func cancelStatement() {
        lock.lock()
        let db = connection
        lock.unlock()
        db?.cancel()
    }
}
