/// The `runner:` section of etc/nightshift.yaml: how `nightshift run` works as a service.
public struct ServiceSettings: Sendable, Equatable {
    /// Jobs this runner process runs at once, each on a worker thread and connection of its own:
    /// `limits.concurrent_jobs`, the job slots of each runner (what `plan` simulates).
    public var workers: Int
    /// How long a claim lasts without renewal (real seconds). A runner that dies holding a job
    /// loses it this long after its last heartbeat; then another runner resumes it.
    public var leaseSeconds: Int
    /// How often leases and the runner's heartbeat are renewed (real seconds, at most 10).
    public var heartbeatSeconds: Int
    /// How often the scheduler, dispatcher and rescuer look for work when nothing wakes them
    /// (real milliseconds).
    public var pollMilliseconds: Int
    /// On SIGTERM/SIGINT or --until: how long running jobs get to reach a checkpoint before their
    /// statements are cancelled (real seconds). The systemd unit's TimeoutStopSec is above it.
    public var stopTimeoutSeconds: Int

    public init(workers: Int = 2, leaseSeconds: Int = 30, heartbeatSeconds: Int = 5, pollMilliseconds: Int = 1000,
                stopTimeoutSeconds: Int = 10) {
        self.workers = workers
        self.leaseSeconds = leaseSeconds
        self.heartbeatSeconds = heartbeatSeconds
        self.pollMilliseconds = pollMilliseconds
        self.stopTimeoutSeconds = stopTimeoutSeconds
    }

    static func read(_ section: MappingReader?, workers: Int) -> ServiceSettings {
        let base = ServiceSettings(workers: workers)
        guard let section else { return base }
        if section.has("workers") {
            _ = section.int("workers", range: 1...50, example: "2")
            section.error("workers", line: section.line(of: "workers"),
                          "runner.workers was replaced by limits.concurrent_jobs, the job slots of each runner (what `plan` simulates)",
                          fix: "remove runner.workers and set limits.concurrent_jobs instead")
        }
        let lease = section.int("lease_seconds", range: 3...3600, example: "30") ?? base.leaseSeconds
        let heartbeat = section.int("heartbeat_seconds", range: 1...10, example: "5") ?? base.heartbeatSeconds
        let poll = section.int("poll_milliseconds", range: 50...60_000, example: "1000") ?? base.pollMilliseconds
        let stop = section.int("stop_timeout_seconds", range: 1...600, example: "10") ?? base.stopTimeoutSeconds
        if heartbeat * 2 > lease {
            section.error("lease_seconds", line: section.line(of: "lease_seconds"),
                          "a lease of \(lease) s does not survive one missed heartbeat every \(heartbeat) s",
                          fix: "make lease_seconds at least twice heartbeat_seconds (e.g. lease_seconds: \(max(30, heartbeat * 3)))")
        }
        section.finish()
        return ServiceSettings(workers: workers, leaseSeconds: lease, heartbeatSeconds: heartbeat, pollMilliseconds: poll,
                               stopTimeoutSeconds: stop)
    }
}
