/// What an audited action came to: one row of the append-only `nightshift.audit` per attempt.
public enum AuditOutcome: String, Sendable, CaseIterable {
    /// Requests (`submit`, events, the HTTP trigger) and their decisions.
    case accepted, refused, approved, rejected, cancelled, expired, queued, finished
    /// The review queue: a record applied by a retry, or left out by a person; a retry that failed.
    case resolved, dismissed
    case retryFailed = "retry_failed"
    /// The archive catalog: listed, verified, restored (or the restore failed).
    case listed, verified, restored
    case restoreFailed = "restore_failed"
    /// Output retention: a published file removed past its retention.
    case removed
    /// The console: a person signed in (a login link opened) or out; a queued job skipped by a person.
    case signedIn = "signed_in", signedOut = "signed_out", skipped
}
