/// The life of one job run. Every transition is a row in `nightshift.state_transitions`, and the
/// table's CHECK constraint holds the same values.
///
/// ```
///            ┌──────────── released (graceful stop) / rescued (lease expired) ─────────┐
///            ▼                                                                         │
/// pending ──► running ──► succeeded (or succeeded_with_rejects: bad records set aside)  │
///    │        ▲  │ ├──────► failed        (permanent error, or retries exhausted)      │
///    │        │  │ ├──────► timed_out     (job timeout or batch window passed)         │
///    │        │  │ ├──────► retrying ──► running   (transient error; after not_before) │
///    │        │  │ └───────────────────────────────────────────────────────────────────┘
///    │        │  └──► paused  (at a checkpoint: its window stopped allowing it, a P1 job
///    │        └────────┘        preempted it, or the machine is overloaded; resumes from it)
///    └──────────────────► skipped       (a dependency did not succeed, an override, or the
///                                        batch window ended before the job could start or resume)
/// ```
///
/// Who moves a job:
/// - `pending` — the scheduler or `run --once` creates it with its batch occurrence; a runner that
///   stops gracefully releases its running job back here (resumes from the checkpoint); the
///   rescuer returns a job whose lease expired here (its runner died) while retries remain.
/// - `running` — the dispatcher claims it (FOR UPDATE SKIP LOCKED) under a lease of one runner,
///   when the decision model lets it start.
/// - `paused` — the worker holding the lease, at the job's next checkpoint, after the dispatcher
///   (of any runner) asked it to pause; the lease and the slot are released.
/// - `retrying` — the worker, after a transient failure; claimable again after its back-off.
/// - `succeeded`, `succeeded_with_rejects`, `failed`, `timed_out` — the worker holding the lease
///   (a fenced write); `succeeded_with_rejects` when bad records went to the review queue; `failed`
///   also by the rescuer when a job's runner died more often than its retries allow.
/// - `skipped` — the rescuer, when a dependency failed, was skipped or timed out, or the batch
///   window ended first; the runner, for an operator's skip override.
public enum JobState: String, Sendable, CaseIterable, Codable {
    case pending, running, paused, retrying, succeeded, failed, skipped
    case timedOut = "timed_out"
    /// Done, with some bad records set aside in the review queue (no more than its max_rejects).
    case succeededWithRejects = "succeeded_with_rejects"

    public var isFinal: Bool { isSuccess || self == .failed || self == .skipped || self == .timedOut }

    /// Its work is done: dependents may start.
    public var isSuccess: Bool { self == .succeeded || self == .succeededWithRejects }

    /// Waiting for the dispatcher: it may be claimed when ready.
    public var isQueued: Bool { self == .pending || self == .retrying || self == .paused }

    /// Whether `self → next` is a legal move.
    public func canMove(to next: JobState) -> Bool {
        switch (self, next) {
        case (.pending, .running), (.pending, .skipped),
             (.running, .succeeded), (.running, .succeededWithRejects), (.running, .failed), (.running, .retrying), (.running, .timedOut), (.running, .pending),
             (.running, .paused), (.paused, .running), (.paused, .skipped),
             (.retrying, .running), (.retrying, .failed), (.retrying, .skipped):
            return true
        default:
            return false
        }
    }

    /// States a dependent may not wait for any more: the dependent is skipped.
    public var blocksDependents: Bool { self == .failed || self == .timedOut || self == .skipped }

    /// Ended badly: failed or timed out (a skip is counted apart).
    public var isFailure: Bool { self == .failed || self == .timedOut }

    // The sets SQL predicates use (`state = ANY(\(JobState.queued))`), so no query spells them out.
    /// Waiting for the dispatcher: pending, retrying, paused.
    public static let queued = allCases.filter(\.isQueued)
    /// Not ended yet: the queued ones and running.
    public static let open = allCases.filter { !$0.isFinal }
    /// Ended: the dependents may go on (successes) or are skipped (the rest).
    public static let final = allCases.filter(\.isFinal)
    public static let successes = allCases.filter(\.isSuccess)
    public static let failures = allCases.filter(\.isFailure)
    /// The states a job may move to `next` from (its legal predecessors).
    public static func movable(to next: JobState) -> [JobState] { allCases.filter { $0.canMove(to: next) } }
}

/// The life of one batch run (one occurrence of a batch, or an operator's rerun of it).
///
/// ```
/// running ──► succeeded   (every job succeeded, or was skipped by an operator's override)
///        ├──► failed      (at least one job failed, timed out or was skipped)
///        └──► cancelled   (its request was cancelled before any of its jobs started)
/// ```
/// Who moves a batch run:
/// - `running` — the scheduler, `run --once`, or the intake (for an accepted request) creates it
///   with its jobs `pending`.
/// - `succeeded`, `failed` — whichever runner sees the last job reach a final state closes it (a
///   conditional update: exactly one does); any runner writes its summary.
/// - `cancelled` — `nightshift cancel` (the database function `decide_request`), when the manager
///   who asked, or a director, cancels a queued request none of whose jobs has started: its jobs
///   are skipped and the run ends at once. It is neither a success nor a failure: `history`,
///   `status`, the mails and `report ops` show it as cancelled, with who cancelled it.
public enum BatchState: String, Sendable, CaseIterable, Codable {
    case running, succeeded, failed, cancelled

    public var isFinal: Bool { self != .running }

    public func canMove(to next: BatchState) -> Bool { self == .running && next != .running }
}

/// The life of one runner process (`nightshift.runners`).
///
/// ```
/// running ──► stopping ──► stopped
/// ```
/// - `running` — the runner registers itself when it starts and renews its heartbeat.
/// - `stopping` — the runner, on SIGTERM/SIGINT or `--until`: it finishes or releases its jobs.
/// - `stopped` — the runner, once its jobs are released and its connections closed. A runner that
///   dies stays `running` with an old heartbeat: `status` shows it as lost.
public enum RunnerState: String, Sendable, CaseIterable, Codable {
    case running, stopping, stopped
}

/// The life of a record set aside for review (`nightshift.review_queue`).
///
/// ```
/// open ──► resolved    (`review retry`: the record was applied)
///     └──► dismissed   (`review dismiss`: a person decided to leave it out)
/// ```
/// A calculation that meets the same bad record again opens it again.
public enum ReviewState: String, Sendable, CaseIterable, Codable {
    case open, resolved, dismissed
}
