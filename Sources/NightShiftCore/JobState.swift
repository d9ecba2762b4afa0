/// The life of one job run. Every transition is recorded in `nightshift.state_transitions`.
///
/// ```
/// pending ──► running ──► succeeded
///    │           ├──────► failed        (permanent error, or retries exhausted)
///    │           └──────► retrying ──► running   (transient error, attempts left)
///    └──────────────────► skipped       (a dependency did not succeed)
/// ```
public enum JobState: String, Sendable, CaseIterable, Codable {
    case pending, running, retrying, succeeded, failed, skipped

    public var isFinal: Bool { self == .succeeded || self == .failed || self == .skipped }

    /// Whether `self → next` is a legal move.
    public func canMove(to next: JobState) -> Bool {
        switch (self, next) {
        case (.pending, .running), (.pending, .skipped),
             (.running, .succeeded), (.running, .failed), (.running, .retrying),
             (.retrying, .running), (.retrying, .failed):
            return true
        default:
            return false
        }
    }
}

/// The life of one batch run.
///
/// ```
/// running ──► succeeded   (every job succeeded)
///        └──► failed      (at least one job failed or was skipped)
/// ```
public enum BatchState: String, Sendable, CaseIterable, Codable {
    case running, succeeded, failed

    public func canMove(to next: BatchState) -> Bool { self == .running && next != .running }
}
