import Foundation

/// A job the decision model may start: its dependencies are done, and it is waiting (never
/// started, or retrying) or paused at a checkpoint.
public struct QueuedJob: Sendable, Equatable {
    /// The job run's id (in a plan: the job's index).
    public let id: Int
    public let name: String
    /// The batch run it belongs to (in a plan: one per batch occurrence).
    public let batchRun: Int
    /// The job's own priority: windows are decided on it, never on the aged one.
    public let priority: Priority
    /// When it became due (its batch's scheduled instant, or a request's arrival): aging and ties.
    public let due: Date
    /// Expected seconds still to run (history, else estimate; less what a paused job has done).
    public let seconds: Int
    /// Whether it can stop at a checkpoint and resume with no rework (chunked calculations).
    public let checkpointed: Bool
    /// Exclusive resources: two jobs sharing one never run at once.
    public let locks: [String]
    /// Writes to the exports volume (deferred when that volume is nearly full).
    public let writesExports: Bool

    public init(id: Int, name: String, batchRun: Int = 0, priority: Priority, due: Date, seconds: Int, checkpointed: Bool,
                locks: [String] = [], writesExports: Bool = false) {
        self.id = id
        self.name = name
        self.batchRun = batchRun
        self.priority = priority
        self.due = due
        self.seconds = seconds
        self.checkpointed = checkpointed
        self.locks = locks
        self.writesExports = writesExports
    }

    public func remaining(_ seconds: Int) -> QueuedJob {
        QueuedJob(id: id, name: name, batchRun: batchRun, priority: priority, due: due, seconds: max(0, seconds),
                  checkpointed: checkpointed, locks: locks, writesExports: writesExports)
    }
}

/// The queue of startable jobs across every active batch, in the order the decision model
/// considers them at an instant: effective (aged) priority, then due time, then name and id.
///
/// Aging depends on the instant, so a single heap with fixed keys would go stale. Jobs are kept
/// in one heap per own priority ordered by (due, name, id): within one priority the job due
/// earliest has also aged the most, so the best job overall is the best of the four heads.
public struct ReadyQueue {
    private var heaps: [Heap<QueuedJob>]
    public let policy: PriorityPolicy

    public init(policy: PriorityPolicy, jobs: [QueuedJob] = []) {
        self.policy = policy
        heaps = (0..<4).map { _ in
            Heap<QueuedJob>(by: { ($0.due, $0.name, $0.id) < ($1.due, $1.name, $1.id) })
        }
        for job in jobs { push(job) }
    }

    public var count: Int { heaps.reduce(0) { $0 + $1.count } }
    public var isEmpty: Bool { heaps.allSatisfy(\.isEmpty) }

    public mutating func push(_ job: QueuedJob) { heaps[job.priority.rawValue - 1].push(job) }

    /// The queue position of `job` at `now` (smaller goes first).
    public func key(_ job: QueuedJob, at now: Date) -> (Int, Date, String, Int) {
        (policy.effectivePriority(job.priority, due: job.due, now: now).rawValue, job.due, job.name, job.id)
    }

    private func bestHeap(at now: Date) -> Int? {
        var best: Int?
        for index in heaps.indices {
            guard let head = heaps[index].peek else { continue }
            if let current = best, let other = heaps[current].peek, !(key(head, at: now) < key(other, at: now)) { continue }
            best = index
        }
        return best
    }

    public func peek(at now: Date) -> QueuedJob? { bestHeap(at: now).flatMap { heaps[$0].peek } }

    public mutating func pop(at now: Date) -> QueuedJob? {
        guard let index = bestHeap(at: now) else { return nil }
        return heaps[index].pop()
    }
}
