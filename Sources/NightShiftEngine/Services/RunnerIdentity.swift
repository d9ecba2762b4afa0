import Foundation

/// Who a runner process is: host, pid and start time. Leases, transitions and the `runners`
/// table name it, so an operator can tell which process held a job.
public struct RunnerIdentity: Sendable, Equatable {
    public let host: String
    public let pid: Int32
    public let startedAt: Date
    public let id: String

    public init(host: String = ProcessInfo.processInfo.hostName, pid: Int32 = ProcessInfo.processInfo.processIdentifier,
                startedAt: Date = Date()) {
        self.host = host
        self.pid = pid
        self.startedAt = startedAt
        let stamp = ISO8601DateFormatter()
        stamp.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        id = "\(host):\(pid):\(stamp.string(from: startedAt))"
    }
}
