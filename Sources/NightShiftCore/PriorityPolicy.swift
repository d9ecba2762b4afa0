import Foundation

/// What the priorities mean beyond the window table: start deadlines, aging, preemption.
public struct PriorityPolicy: Sendable, Equatable {
    /// P2 must start within this many seconds of becoming due (DESIGN: 1 hour).
    public let highStartDeadline: Int
    /// A waiting job is promoted one level per this many seconds of waiting…
    public let agingStepSeconds: Int
    /// …by at most this many levels, and never above this priority (no job ages into P1 by default).
    public let maxPromotion: Int
    public let agingCeiling: Priority

    public init(highStartDeadline: Int = 3600, agingStepSeconds: Int = 3600, maxPromotion: Int = 1, agingCeiling: Priority = .p2) {
        self.highStartDeadline = highStartDeadline
        self.agingStepSeconds = agingStepSeconds
        self.maxPromotion = maxPromotion
        self.agingCeiling = agingCeiling
    }

    /// The priority a job waiting since `due` competes with at `now`: bounded promotion, so
    /// nothing starves and nothing low ever outranks genuinely critical work. It orders the queue
    /// only: window decisions always use the job's own priority (an aged P4 still runs only in
    /// optimal windows).
    public func effectivePriority(_ base: Priority, due: Date, now: Date) -> Priority {
        let waited = max(0, Int(now.timeIntervalSince(due)))
        let steps = agingStepSeconds > 0 ? min(maxPromotion, waited / agingStepSeconds) : 0
        let promoted = max(base.rawValue - steps, agingCeiling.rawValue)
        return Priority(rawValue: min(base.rawValue, promoted))!
    }

    /// The latest acceptable start, where the priority has one: P1 at once, P2 within the deadline.
    public func latestStart(_ priority: Priority, due: Date) -> Date? {
        switch priority {
        case .p1: due
        case .p2: due.addingTimeInterval(TimeInterval(highStartDeadline))
        case .p3, .p4: nil
        }
    }

    public struct RunningJob: Sendable, Equatable {
        public let name: String
        public let priority: Priority
        public let started: Date
        public init(name: String, priority: Priority, started: Date) {
            self.name = name
            self.priority = priority
            self.started = started
        }
    }

    /// Which running jobs to pause so that an arriving job can start, given `capacity` slots.
    /// Only P1 preempts, and only P3/P4 work is paused: P4 before P3, the most recently started
    /// first (it loses the least). Empty when there is a free slot or nothing may be paused.
    public func jobsToPause(for incoming: Priority, running: [RunningJob], capacity: Int) -> [RunningJob] {
        guard incoming == .p1, running.count >= capacity else { return [] }
        let needed = running.count - capacity + 1
        let candidates = running.filter { $0.priority >= .p3 }
            .sorted { ($0.priority, $0.started) > ($1.priority, $1.started) }
        guard candidates.count >= needed else { return [] }
        return Array(candidates.prefix(needed))
    }
}
