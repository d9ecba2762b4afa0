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
    /// Seconds of the longest chain of work that waits on it (`RemainingPath`), itself not counted.
    public let tail: Int
    /// Its remaining-path length: what is left of it plus its tail. Longer goes first.
    public var path: Int { seconds + tail }

    public init(id: Int, name: String, batchRun: Int = 0, priority: Priority, due: Date, seconds: Int, checkpointed: Bool,
                locks: [String] = [], writesExports: Bool = false, tail: Int = 0) {
        self.id = id
        self.name = name
        self.batchRun = batchRun
        self.priority = priority
        self.due = due
        self.seconds = seconds
        self.checkpointed = checkpointed
        self.locks = locks
        self.writesExports = writesExports
        self.tail = max(0, tail)
    }

    public func remaining(_ seconds: Int) -> QueuedJob {
        QueuedJob(id: id, name: name, batchRun: batchRun, priority: priority, due: due, seconds: max(0, seconds),
                  checkpointed: checkpointed, locks: locks, writesExports: writesExports, tail: tail)
    }
}

/// The queue of startable jobs across every active batch, in the order the decision model
/// considers them at an instant: effective (aged) priority, then the longest remaining path
/// (`QueuedJob.path`: the chain that sets the night's end starts first), then due time, then name
/// and id.
///
/// Aging depends on the instant, so a single heap with fixed keys would go stale. Jobs are kept in
/// one heap per own priority and due time (a batch run's jobs share one), ordered by (longest path,
/// name, id): every job of one heap has the same aged priority at any instant. Within one own
/// priority an earlier due time has aged as much or more, so the best job of that priority is the
/// best head among its earliest heaps that share the earliest one's aged priority; the best job
/// overall is the best of those per priority. There are as many heaps as batch runs with ready
/// work, a handful.
public struct ReadyQueue {
    private struct Bucket {
        let due: Date
        var heap: Heap<QueuedJob>
    }
    /// Per own priority, buckets by due time, earliest first.
    private var buckets: [[Bucket]] = [[], [], [], []]
    public let policy: PriorityPolicy
    public private(set) var count = 0

    public init(policy: PriorityPolicy, jobs: [QueuedJob] = []) {
        self.policy = policy
        for job in jobs { push(job) }
    }

    public var isEmpty: Bool { count == 0 }

    public mutating func push(_ job: QueuedJob) {
        let p = job.priority.rawValue - 1
        count += 1
        // Few buckets: the last is the usual one (jobs of the newest batch run).
        var at = buckets[p].count
        while at > 0 && buckets[p][at - 1].due > job.due { at -= 1 }
        if at > 0 && buckets[p][at - 1].due == job.due {
            buckets[p][at - 1].heap.push(job)
            return
        }
        var heap = Heap<QueuedJob>(by: { ($1.path, $0.name, $0.id) < ($0.path, $1.name, $1.id) })
        heap.push(job)
        buckets[p].insert(Bucket(due: job.due, heap: heap), at: at)
    }

    /// The queue position of `job` at `now` (smaller goes first).
    public func key(_ job: QueuedJob, at now: Date) -> (Int, Int, Date, String, Int) {
        (policy.effectivePriority(job.priority, due: job.due, now: now).rawValue, -job.path, job.due, job.name, job.id)
    }

    /// Where the best job is: (own priority index, bucket index).
    private func best(at now: Date) -> (Int, Int)? {
        var best: (Int, Int)?
        var bestKey: (Int, Int, Date, String, Int)?
        for p in buckets.indices {
            guard let first = buckets[p].first else { continue }
            let aged = policy.effectivePriority(first.heap.peek!.priority, due: first.due, now: now)
            for b in buckets[p].indices {
                let head = buckets[p][b].heap.peek!
                if b > 0 && policy.effectivePriority(head.priority, due: head.due, now: now) != aged { break }
                let candidate = key(head, at: now)
                if bestKey.map({ candidate < $0 }) ?? true {
                    best = (p, b)
                    bestKey = candidate
                }
            }
        }
        return best
    }

    public func peek(at now: Date) -> QueuedJob? { best(at: now).flatMap { buckets[$0.0][$0.1].heap.peek } }

    public mutating func pop(at now: Date) -> QueuedJob? {
        guard let (p, b) = best(at: now) else { return nil }
        let job = buckets[p][b].heap.pop()
        if buckets[p][b].heap.isEmpty { buckets[p].remove(at: b) }
        count -= 1
        return job
    }
}
