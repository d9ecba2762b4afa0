import Foundation

/// Where a job's expected duration comes from.
public enum DurationSource: Sendable, Equatable, CustomStringConvertible {
    /// The mean of this many past successful runs.
    case history(runs: Int)
    /// The job's declared `estimate_minutes`.
    case estimate

    public var description: String {
        switch self {
        case let .history(runs): "history (\(runs) run\(runs == 1 ? "" : "s"))"
        case .estimate: "estimate"
        }
    }
}

/// Everything a plan depends on. Pure data: the caller reads history and overrides.
public struct PlanRequest: Sendable {
    public let batch: BatchKind
    public let jobs: [JobDefinition]
    /// The instant the batch starts (due).
    public let start: Date
    public let schedule: BatchSchedule
    public let windows: WindowSet
    public let policy: PriorityPolicy
    /// Past mean durations in seconds with the number of runs, by job.
    public let history: [String: (seconds: Double, runs: Int)]
    public let overrides: [ManualOverride]
    /// How many jobs may run at once.
    public let slots: Int
    /// When each job became due, for aging and tie-breaks (default: `start`).
    public let dueTimes: [String: Date]

    public init(batch: BatchKind, jobs: [JobDefinition], start: Date, schedule: BatchSchedule, windows: WindowSet,
                policy: PriorityPolicy = PriorityPolicy(), history: [String: (seconds: Double, runs: Int)] = [:],
                overrides: [ManualOverride] = [], slots: Int = 1, dueTimes: [String: Date] = [:]) {
        self.batch = batch
        self.jobs = jobs
        self.start = start
        self.schedule = schedule
        self.windows = windows
        self.policy = policy
        self.history = history
        self.overrides = overrides
        self.slots = max(1, slots)
        self.dueTimes = dueTimes
    }
}

public struct PlanEntry: Sendable {
    public enum Status: Sendable, Equatable {
        case scheduled
        /// Skipped by a manual override.
        case skipped
        /// Cannot start: no window allows it within the horizon, or a dependency cannot start.
        case blocked(String)
    }

    public let job: JobDefinition
    public let status: Status
    public let effectivePriority: Priority
    /// Dependencies after overrides.
    public let waitsFor: [String]
    /// The window decision when the job became ready to start.
    public let decision: WindowDecision?
    public let start: Date?
    public let finish: Date?
    public let seconds: Int
    public let source: DurationSource
    public let overrides: [ManualOverride]
    /// P1/P2 start deadline missed by the plan.
    public let lateBy: Int?
}

public struct Plan: Sendable {
    public let batch: BatchKind
    public let businessDate: LocalDate
    public let start: Date
    public let windowEnd: Date
    /// In execution order.
    public let entries: [PlanEntry]
    /// When the last job finishes, best-effort (P4) jobs included.
    public let predictedFinish: Date
    /// When the last P1–P3 job finishes: what must fit the window.
    public let requiredFinish: Date
    /// All P1–P3 jobs can start and finish within the window. P4 is best effort and never makes a
    /// batch late; `lateBestEffort` names those that would finish after the window.
    public let fitsWindow: Bool
    public let lateBestEffort: [String]
    public let warnings: [String]
}

public enum Planner {
    /// Simulates the batch: a job starts when its dependencies are done, a slot is free, none of
    /// its locks is held, and its window decision allows it; among ready jobs the one with the most
    /// urgent (aged) priority starts first, then the one due earliest, then by name.
    public static func plan(_ request: PlanRequest) throws(DependencyGraph.Problem) -> Plan {
        let zone = request.windows.zone
        let byName = Dictionary(uniqueKeysWithValues: request.jobs.map { ($0.name, $0) })
        let applied = AppliedOverrides(jobs: request.jobs, overrides: request.overrides)
        let skipped = applied.skipped, overridesByJob = applied.byJob
        var warnings = applied.unknown.map { "override for unknown job \($0.job) ignored (\($0.summary))" }
        let graph = try DependencyGraph(applied.jobs)
        let businessDate = request.batch.businessDate(at: request.start, in: zone)
        if let warning = request.windows.calendar.coverageWarning(for: LocalDate(request.start, in: zone)) { warnings.append(warning) }

        // Work on the graph's integer indices (jobs ranked by name): the benchmark plans 10,000 jobs.
        let effectiveJobs = graph.definitions
        let names = effectiveJobs.map(\.name)
        let originals = names.map { byName[$0]! }
        var remaining = graph.dependencies.map(\.count)
        let dependents = graph.dependentsOf
        let due = names.map { request.dueTimes[$0] ?? request.start }
        let seconds: [Int] = effectiveJobs.map { job in
            if let past = request.history[job.name], past.runs > 0 { return max(1, Int(past.seconds.rounded())) }
            return job.estimateSeconds
        }

        var clock = request.start
        // Ready jobs are ordered by (aged priority when they became ready, due time, name); the key is
        // fixed when pushed so the heap stays consistent while the clock advances.
        struct ReadyKey { let priority: Int; let due: Date; let name: String; let index: Int }
        var ready = Heap<ReadyKey>(by: { ($0.priority, $0.due, $0.name) < ($1.priority, $1.due, $1.name) })
        func makeReady(_ i: Int) {
            let aged = request.policy.effectivePriority(effectiveJobs[i].priority, due: due[i], now: clock)
            ready.push(ReadyKey(priority: aged.rawValue, due: due[i], name: names[i], index: i))
        }
        var deferred = Heap<(Date, Int)>(by: { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) })
        var running = Heap<(Date, Int)>(by: { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) })
        var lockHolders: [String: Int] = [:]
        var waitingForLock: [Int] = []
        var entries: [PlanEntry?] = Array(repeating: nil, count: names.count)
        var order: [Int] = []
        var finishOf: [Date?] = Array(repeating: nil, count: names.count)
        var blocked: [Int: String] = [:]
        var decisions: [Int: WindowDecision] = [:]

        func release(_ i: Int) {
            for d in dependents[i] {
                remaining[d] -= 1
                if remaining[d] == 0 {
                    if let stuck = graph.dependencies[d].first(where: { blocked[$0] != nil }) {
                        let reason = "dependency \(names[stuck]) cannot start"
                        block(d, reason)
                    } else {
                        makeReady(d)
                    }
                }
            }
        }
        func block(_ i: Int, _ reason: String) {
            blocked[i] = reason
            entries[i] = PlanEntry(job: originals[i], status: .blocked(reason), effectivePriority: effectiveJobs[i].priority,
                                   waitsFor: effectiveJobs[i].dependsOn, decision: decisions[i], start: nil, finish: nil,
                                   seconds: seconds[i], source: sourceOf(i), overrides: overridesByJob[names[i]] ?? [], lateBy: nil)
            order.append(i)
            release(i)
        }
        func sourceOf(_ i: Int) -> DurationSource {
            if let past = request.history[names[i]], past.runs > 0 { return .history(runs: past.runs) }
            return .estimate
        }
        for i in names.indices where remaining[i] == 0 { makeReady(i) }

        var freeSlots = request.slots
        while true {
            // Start whatever can start now.
            while freeSlots > 0, let i = ready.pop()?.index {
                let job = effectiveJobs[i]
                if skipped.contains(job.name) {
                    entries[i] = PlanEntry(job: originals[i], status: .skipped, effectivePriority: job.priority, waitsFor: job.dependsOn,
                                           decision: nil, start: nil, finish: nil, seconds: 0, source: sourceOf(i),
                                           overrides: overridesByJob[job.name] ?? [], lateBy: nil)
                    order.append(i)
                    finishOf[i] = clock
                    release(i)
                    continue
                }
                if job.locks.contains(where: { lockHolders[$0] != nil }) {
                    waitingForLock.append(i)
                    continue
                }
                let priority = request.policy.effectivePriority(job.priority, due: due[i], now: clock)
                // Aging changes a job's place in the queue, never which windows it may run in.
                let decision = decisions[i] ?? request.windows.decide(job.priority, at: clock)
                if decisions[i] == nil { decisions[i] = decision }
                switch decision.verdict {
                case .notAllowed:
                    block(i, "no window lets \(job.priority) start")
                    continue
                case let .deferred(until) where until > clock:
                    deferred.push((until, i))
                    continue
                default:
                    break
                }
                let finish = clock.addingTimeInterval(TimeInterval(seconds[i]))
                let late = request.policy.latestStart(job.priority, due: due[i]).map { Int(clock.timeIntervalSince($0)) }
                entries[i] = PlanEntry(job: originals[i], status: .scheduled, effectivePriority: priority, waitsFor: job.dependsOn,
                                       decision: decision, start: clock, finish: finish, seconds: seconds[i], source: sourceOf(i),
                                       overrides: overridesByJob[job.name] ?? [], lateBy: late.flatMap { $0 > 0 ? $0 : nil })
                order.append(i)
                for lock in job.locks { lockHolders[lock] = i }
                running.push((finish, i))
                freeSlots -= 1
            }
            // Advance to the next event: a job finishing or a deferral ending.
            guard let next = [running.peek?.0, deferred.peek?.0].compactMap({ $0 }).min() else { break }
            clock = max(clock, next)
            while let (finish, i) = running.peek, finish <= clock {
                _ = running.pop()
                freeSlots += 1
                finishOf[i] = finish
                for lock in effectiveJobs[i].locks where lockHolders[lock] == i { lockHolders[lock] = nil }
                release(i)
            }
            for i in waitingForLock { makeReady(i) }
            waitingForLock.removeAll()
            while let (until, i) = deferred.peek, until <= clock {
                _ = deferred.pop()
                makeReady(i)
            }
        }
        for i in names.indices where entries[i] == nil {
            block(i, "waiting on a cycle or an unfinished dependency") // unreachable for a valid graph
        }

        let windowEnd = request.start.addingTimeInterval(TimeInterval(request.schedule.windowSeconds))
        let finish = finishOf.compactMap { $0 }.max() ?? request.start
        let ordered = order.map { entries[$0]! }
        let required = ordered.filter { $0.job.priority != .p4 }
        let requiredFinish = required.compactMap(\.finish).max() ?? request.start
        let anyBlocked = required.contains { if case .blocked = $0.status { true } else { false } }
        let lateBestEffort = ordered.filter { $0.job.priority == .p4 && ($0.finish.map { $0 > windowEnd } ?? true) && $0.status != .skipped }
            .map(\.job.name)
        for entry in ordered {
            if let late = entry.lateBy {
                warnings.append("\(entry.job.name) (\(entry.job.priority)) starts \(late / 60) min after its start deadline")
            }
        }
        return Plan(batch: request.batch, businessDate: businessDate, start: request.start, windowEnd: windowEnd, entries: ordered,
                    predictedFinish: finish, requiredFinish: requiredFinish, fitsWindow: requiredFinish <= windowEnd && !anyBlocked,
                    lateBestEffort: lateBestEffort, warnings: warnings)
    }
}
