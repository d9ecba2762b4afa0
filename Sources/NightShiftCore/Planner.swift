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

/// What already happened to a job of a batch run under way: the forecast of the rest of a night
/// (the console's Tonight page) plans from `PlanRequest.now` with what is done, running and
/// waiting as it is, through the same simulation as a plan from the batch's start.
public enum JobProgress: Sendable, Equatable {
    /// Ended and lets its dependents run (succeeded, or skipped by an override): between these instants.
    case done(start: Date?, end: Date)
    /// Ended and its dependents cannot run (failed, timed out, skipped for a failed dependency).
    case ended(start: Date?, end: Date?, why: String)
    /// Running since `since` (this stretch), with `left` seconds expected to go.
    case running(since: Date, left: Int)
    /// Waiting to start or resume (pending, retrying, paused) with `left` seconds expected, not before `notBefore`.
    case waiting(left: Int, notBefore: Date?)
    /// Held by a what-if (`plan --hold`): it does not run, and what waits on it cannot.
    case held
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
    /// Other batch occurrences of the same night, sharing the slots and the queue with this one
    /// (their jobs become due at their own instants).
    public let others: [PlanOccurrence]
    /// Batch runs with work under way at once (`limits.max_concurrent_batches`).
    public let maxBatches: Int
    /// The instant the simulation starts from (default: `start`). Later than `start` for a batch
    /// under way, with `progress` saying where each of its jobs is.
    public let now: Date
    /// The planned batch's jobs that started or ended already (the others' are in `PlanOccurrence.progress`).
    public let progress: [String: JobProgress]

    public init(batch: BatchKind, jobs: [JobDefinition], start: Date, schedule: BatchSchedule, windows: WindowSet,
                policy: PriorityPolicy = PriorityPolicy(), history: [String: (seconds: Double, runs: Int)] = [:],
                overrides: [ManualOverride] = [], slots: Int = 1, dueTimes: [String: Date] = [:], others: [PlanOccurrence] = [],
                maxBatches: Int = 2, now: Date? = nil, progress: [String: JobProgress] = [:]) {
        self.now = max(now ?? start, start)
        self.progress = progress
        self.others = others
        self.maxBatches = max(1, maxBatches)
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

/// Another batch occurrence planned in the same night.
public struct PlanOccurrence: Sendable {
    public let batch: BatchKind
    public let start: Date
    public let jobs: [JobDefinition]
    public let overrides: [ManualOverride]
    /// Its jobs that started or ended already (`JobProgress`).
    public let progress: [String: JobProgress]

    public init(batch: BatchKind, start: Date, jobs: [JobDefinition], overrides: [ManualOverride] = [], progress: [String: JobProgress] = [:]) {
        self.batch = batch
        self.start = start
        self.jobs = jobs
        self.overrides = overrides
        self.progress = progress
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
    /// 0: the planned batch; 1…: `PlanRequest.others`, in order.
    public let occurrence: Int
    public let status: Status
    /// The aged priority the job competed with when it started.
    public let effectivePriority: Priority
    /// Dependencies after overrides.
    public let waitsFor: [String]
    /// The window decision at the instant the job starts (re-checked at every start, never cached
    /// from when it became ready); for a blocked job, the decision that blocks it.
    public let decision: WindowDecision?
    /// Why it did not start as soon as it was ready (the last obstacle), if it waited.
    public var waited: String? { wait?.reason }
    let wait: DispatchDecision.Wait?
    public let start: Date?
    public let finish: Date?
    /// Each stretch it runs: a job paused at a checkpoint resumes in a later segment.
    public let segments: [DateInterval]
    /// Why it paused, one per pause.
    public let pauses: [String]
    public let seconds: Int
    public let source: DurationSource
    public let overrides: [ManualOverride]
    /// P1/P2 start deadline missed by the plan.
    public let lateBy: Int?
    /// Seconds it may finish later before the longest chain of work waiting on it would end past
    /// the planned batch's window (negative: that chain ends past it already); nil for a job of
    /// another batch, skipped or blocked.
    public let slack: Int?
    /// On its occurrence's critical path (`Plan.criticalPaths`).
    public let critical: Bool
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
    /// The chain that sets each occurrence's finish (the planned batch first, then `others`), first
    /// job first: from the job that ends last, back through the dependency that ended last, to a
    /// job that waited for none.
    public let criticalPaths: [[String]]
    /// The planned batch's.
    public var criticalPath: [String] { criticalPaths.first ?? [] }
}

public enum Planner {
    /// Simulates the batch over a clock: whenever something changes (a job finishes, a deferral
    /// ends, a window boundary stops a running job), the one decision model (`DispatchModel`, the
    /// same the dispatcher calls) says what starts, what pauses and what waits.
    public static func plan(_ request: PlanRequest) throws(DependencyGraph.Problem) -> Plan {
        let zone = request.windows.zone
        // Every occurrence's jobs in one graph. A job name met again in a later occurrence (the
        // same batch twice) is qualified inside the plan as name@occurrence.
        let occurrences = [PlanOccurrence(batch: request.batch, start: request.start, jobs: request.jobs, overrides: request.overrides,
                                          progress: request.progress)]
            + request.others
        var combined: [JobDefinition] = []
        var combinedOriginal: [JobDefinition] = []
        var combinedApplied: [JobDefinition] = [] // after overrides, under its own name
        var combinedOccurrence: [Int] = []
        var skipped: Set<String> = []
        var overridesByJob: [String: [ManualOverride]] = [:]
        var warnings: [String] = []
        var seen: Set<String> = [] // job names of earlier occurrences (only when there are several)
        for (k, occurrence) in occurrences.enumerated() {
            let applied = AppliedOverrides(jobs: occurrence.jobs, overrides: occurrence.overrides)
            warnings += applied.unknown.map { "override for unknown job \($0.job) ignored (\($0.summary))" }
            let qualify = k > 0 && occurrence.jobs.contains { seen.contains($0.name) }
            if occurrences.count > 1 { for job in occurrence.jobs { seen.insert(job.name) } }
            func internalName(_ name: String) -> String { qualify ? "\(name)@\(k)" : name }
            for (original, job) in zip(occurrence.jobs, applied.jobs) {
                let name = internalName(job.name)
                if applied.skipped.contains(job.name) { skipped.insert(name) }
                if let found = applied.byJob[job.name] { overridesByJob[name] = found }
                combined.append(qualify ? job.with(name: name, dependsOn: job.dependsOn.map(internalName)) : job)
                combinedOriginal.append(original)
                combinedApplied.append(job)
                combinedOccurrence.append(k)
            }
        }
        let graph = try DependencyGraph(combined)
        let businessDate = request.batch.businessDate(at: request.start, in: zone)
        if let warning = request.windows.calendar.coverageWarning(for: LocalDate(request.start, in: zone)) { warnings.append(warning) }

        // Work on the graph's integer indices (jobs ranked by name): the benchmark plans 10,000 jobs.
        let jobs = graph.definitions
        let originals = graph.inputPosition.map { combinedOriginal[$0] }
        let applied = graph.inputPosition.map { combinedApplied[$0] }
        let occurrenceOf = graph.inputPosition.map { combinedOccurrence[$0] }
        let count = jobs.count
        let isSkipped = skipped.isEmpty ? [Bool](repeating: false, count: count) : jobs.map { skipped.contains($0.name) }
        var remaining = graph.dependencies.counts
        let dependents = graph.dependentsOf
        // `dueTimes` are for the planned batch's jobs; another occurrence's jobs are due at its start.
        let due = (0..<count).map { i in
            occurrenceOf[i] == 0 ? request.dueTimes[originals[i].name] ?? request.start : occurrences[occurrenceOf[i]].start
        }
        let progress: [JobProgress?] = (0..<count).map { occurrences[occurrenceOf[$0]].progress[originals[$0].name] }
        let expected: [Int] = (0..<count).map { i in
            if let past = request.history[originals[i].name], past.runs > 0 { return max(1, Int(past.seconds.rounded())) }
            return jobs[i].estimateSeconds
        }
        // What is left of each job: all of it, or what its progress says.
        let seconds: [Int] = (0..<count).map { i in
            switch progress[i] {
            case let .running(_, left)?, let .waiting(left, _)?: max(1, left)
            case .done?, .ended?, .held?: 0
            case nil: expected[i]
            }
        }
        // The longest chain of work waiting on each job (a skipped job takes no time): ties within an
        // aged priority go to the longest remaining path, as in the dispatcher.
        let tails = RemainingPath.tails(graph, seconds: (0..<count).map { isSkipped[$0] ? 0 : seconds[$0] })
        // Jobs paused at a checkpoint: with the running ones, they make their batch run under way.
        var pausedJobs: Set<Int> = []
        func sourceOf(_ i: Int) -> DurationSource {
            if let past = request.history[originals[i].name], past.runs > 0 { return .history(runs: past.runs) }
            return .estimate
        }

        let model = DispatchModel(windows: request.windows, policy: request.policy, limits: DispatchLimits(maxBatches: request.maxBatches))
        var queue = ReadyQueue(policy: request.policy)
        var memo = WindowMemo()
        var clock = request.now
        // Per job: what is left to run, when it first started, its segments and pauses, why it waited.
        var left = seconds
        var segments: [[DateInterval]] = Array(repeating: [], count: count)
        var segmentStart: [Date?] = Array(repeating: nil, count: count)
        var pauses: [[String]] = Array(repeating: [], count: count)
        var lastWait: [DispatchDecision.Wait?] = Array(repeating: nil, count: count)
        var firstDecision: [WindowDecision?] = Array(repeating: nil, count: count)
        var aged: [Priority?] = Array(repeating: nil, count: count)
        var late: [Int?] = Array(repeating: nil, count: count)
        var blocked: [String?] = Array(repeating: nil, count: count)
        var finished: [Date?] = Array(repeating: nil, count: count)
        // The order the simulation met the jobs in: first start, skip or block.
        var order: [Int] = []
        // Running jobs (a handful): the model's view, when each finishes, and when its window stops it.
        var running: [ActiveJob] = []
        var runningUntil: [(finish: Date, stop: Date?)] = [] // parallel to `running`
        /// Batch runs under way (work running or paused), as the dispatcher reads them from the database.
        func underWay() -> [Int: Priority] {
            var active: [Int: Priority] = [:]
            for job in running where (active[job.job.batchRun] ?? .p4) >= job.job.priority { active[job.job.batchRun] = job.job.priority }
            for i in pausedJobs where (active[occurrenceOf[i]] ?? .p4) >= jobs[i].priority { active[occurrenceOf[i]] = jobs[i].priority }
            return active
        }
        var timers = Heap<(Date, Int)>(by: { ($0.0, $0.1) < ($1.0, $1.1) })
        // Jobs waiting for a lock, by lock: released when a job holding that lock finishes or pauses.
        var lockWaiters: [String: [Int]] = [:]
        // Waits a plan does not simulate (other batches, machine readings): retried at every finish.
        var otherWaiters: [Int] = []
        func releaseLocks(of i: Int) {
            for lock in jobs[i].locks {
                for waiter in lockWaiters.removeValue(forKey: lock) ?? [] { queue.push(queued(waiter)) }
            }
        }
        var violations: Set<Int> = []

        func queued(_ i: Int) -> QueuedJob {
            QueuedJob(id: i, name: originals[i].name, batchRun: occurrenceOf[i], priority: jobs[i].priority, due: due[i], seconds: left[i],
                      checkpointed: jobs[i].kind.pausesAtCheckpoints, locks: jobs[i].locks, writesExports: jobs[i].kind.writesExports,
                      tail: tails[i])
        }
        func release(_ i: Int) {
            for d in dependents[i] {
                remaining[d] -= 1
                if remaining[d] == 0 { becomeReady(d) }
            }
        }
        func becomeReady(_ i: Int) {
            // Done, ended, held or running already: its own progress placed it.
            if settled[i] { return }
            if let stuck = graph.dependencies[i].first(where: { blocked[$0] != nil }) {
                block(i, "dependency \(originals[stuck].name) cannot start")
            } else if isSkipped[i] {
                finished[i] = clock
                order.append(i)
                release(i)
            } else if let later = [due[i], notBefore[i]].compactMap({ $0 }).max(), later > clock {
                timers.push((later, i))
            } else {
                queue.push(queued(i))
            }
        }
        func block(_ i: Int, _ reason: String) {
            blocked[i] = reason
            order.append(i)
            release(i)
        }
        // A batch under way: what ended releases (or blocks) its dependents, what runs holds a slot.
        var settled = [Bool](repeating: false, count: count)
        var notBefore = [Date?](repeating: nil, count: count)
        let initiallyReady = (0..<count).filter { remaining[$0] == 0 }
        for i in 0..<count {
            switch progress[i] {
            case let .running(since, left)?:
                settled[i] = true
                order.append(i)
                segmentStart[i] = since
                let finish = clock.addingTimeInterval(TimeInterval(max(1, left)))
                let stop = jobs[i].kind.pausesAtCheckpoints ? request.windows.firstDisallowed(jobs[i].priority, from: clock, to: finish) : nil
                running.append(ActiveJob(job: queued(i), started: since))
                runningUntil.append((finish, stop))
            case let .waiting(_, until)?:
                notBefore[i] = until
            case .done?, .ended?, .held?:
                settled[i] = true
            case nil:
                break
            }
        }
        for i in 0..<count {
            switch progress[i] {
            case let .done(start, end)?:
                segments[i] = [DateInterval(start: min(start ?? end, end), end: end)]
                finished[i] = end
                order.append(i)
                release(i)
            case let .ended(start, end, why)?:
                if let end { segments[i] = [DateInterval(start: min(start ?? end, end), end: end)] }
                block(i, why)
            case .held?:
                block(i, "held (what-if)")
            default:
                break
            }
        }
        for i in initiallyReady { becomeReady(i) }

        while true {
            // Decide until nothing changes at this instant (a pause frees a slot for a start).
            while true {
                let free = request.slots - running.count
                let decision = model.decide(&queue, DispatchState(now: clock, running: running, freeSlots: free,
                                                                  noSlotAnywhere: free <= 0, activeBatches: underWay()),
                                           memo: &memo)
                for violation in decision.violations where violations.insert(violation.job.job.id).inserted {
                    warnings.append("\(violation.job.job.name) \(violation.reason)")
                }
                for pause in decision.pauses {
                    let i = pause.job.job.id
                    guard let at = running.firstIndex(where: { $0.job.id == i }) else { continue }
                    running.remove(at: at)
                    let run = runningUntil.remove(at: at)
                    segments[i].append(DateInterval(start: segmentStart[i]!, end: clock))
                    left[i] = max(1, Int(run.finish.timeIntervalSince(clock).rounded()))
                    pauses[i].append("\(short(clock, zone)) \(pause.reason)")
                    pausedJobs.insert(i)
                    queue.push(queued(i))
                    releaseLocks(of: i)
                }
                for (job, window) in zip(decision.starts, decision.startWindows) {
                    let i = job.id
                    if firstDecision[i] == nil {
                        firstDecision[i] = window
                        aged[i] = request.policy.effectivePriority(jobs[i].priority, due: due[i], now: clock)
                        order.append(i)
                    }
                    segmentStart[i] = clock
                    pausedJobs.remove(i)
                    let finish = clock.addingTimeInterval(TimeInterval(left[i]))
                    let stop = job.checkpointed ? request.windows.firstDisallowed(jobs[i].priority, from: clock, to: finish) : nil
                    running.append(ActiveJob(job: job, started: clock))
                    runningUntil.append((finish, stop))
                }
                for (job, seconds) in decision.lateStarts where late[job.id] == nil { late[job.id] = seconds }
                for wait in decision.waits {
                    let i = wait.job.id
                    if firstDecision[i] == nil { lastWait[i] = wait }
                    switch wait.obstacle {
                    case let .window(until?), let .neverWindowAhead(until):
                        timers.push((until, i))
                    case .window(until: nil):
                        firstDecision[i] = request.windows.decide(jobs[i].priority, at: clock)
                        block(i, "no window lets \(jobs[i].priority) start")
                    case let .lock(lock, _):
                        lockWaiters[lock, default: []].append(i)
                    case .batchLimit, .load, .disk:
                        otherWaiters.append(i)
                    }
                }
                if decision.pauses.isEmpty { break }
            }
            // A window boundary that did not stop a job (it may still run there) is passed.
            var next = timers.peek?.0
            for k in runningUntil.indices {
                if let stop = runningUntil[k].stop, stop <= clock { runningUntil[k].stop = nil }
                // Advance to the next event: a finish, a window stopping a running job, a timer.
                let event = runningUntil[k].stop.map { min($0, runningUntil[k].finish) } ?? runningUntil[k].finish
                if next == nil || event < next! { next = event }
            }
            guard let next else { break }
            clock = max(clock, next)
            var k = 0
            while k < running.count {
                let run = runningUntil[k]
                guard run.finish <= clock else {
                    k += 1
                    continue
                }
                let i = running.remove(at: k).job.id
                runningUntil.remove(at: k)
                segments[i].append(DateInterval(start: segmentStart[i]!, end: run.finish))
                finished[i] = run.finish
                release(i)
                releaseLocks(of: i)
                if !otherWaiters.isEmpty {
                    for waiter in otherWaiters { queue.push(queued(waiter)) }
                    otherWaiters.removeAll()
                }
            }
            while let (until, i) = timers.peek, until <= clock {
                _ = timers.pop()
                queue.push(queued(i))
            }
        }

        // Entries in the order the simulation met the jobs (first start, skip or block).
        func entry(_ i: Int) -> PlanEntry {
            let job = jobs[i]
            let status: PlanEntry.Status = isSkipped[i] ? .skipped : blocked[i].map { .blocked($0) } ?? .scheduled
            let ran = segments[i]
            return PlanEntry(job: originals[i], occurrence: occurrenceOf[i], status: status, effectivePriority: aged[i] ?? job.priority, waitsFor: applied[i].dependsOn,
                             decision: status == .skipped ? nil : firstDecision[i], wait: lastWait[i],
                             start: ran.first?.start, finish: ran.last?.end, segments: ran, pauses: pauses[i],
                             seconds: status == .skipped ? 0 : expected[i], source: sourceOf(i), overrides: overridesByJob.isEmpty ? [] : overridesByJob[job.name] ?? [],
                             lateBy: late[i], slack: slack(i), critical: onPath[i])
        }
        let windowEnd = request.start.addingTimeInterval(TimeInterval(request.schedule.windowSeconds))
        // Each occurrence's critical path: back from its last finish through the latest-ending dependency.
        func ran(_ i: Int) -> Bool { finished[i] != nil && !isSkipped[i] && blocked[i] == nil }
        func later(_ a: Int, _ b: Int) -> Bool { (finished[a]!, originals[b].name) < (finished[b]!, originals[a].name) }
        var onPath = [Bool](repeating: false, count: count)
        let criticalPaths: [[String]] = occurrences.indices.map { k in
            var chain: [Int] = []
            var last = (0..<count).filter { occurrenceOf[$0] == k && ran($0) }.max(by: later)
            while let i = last {
                chain.append(i)
                onPath[i] = true
                last = graph.dependencies[i].filter(ran).max(by: later)
            }
            return chain.reversed().map { originals[$0].name }
        }
        func slack(_ i: Int) -> Int? {
            guard occurrenceOf[i] == 0, let end = finished[i], !isSkipped[i], blocked[i] == nil else { return nil }
            return Int(windowEnd.timeIntervalSince(end).rounded()) - tails[i]
        }
        var met = [Bool](repeating: false, count: count)
        for i in order { met[i] = true }
        for i in 0..<count where !met[i] {
            blocked[i] = "waiting on a cycle or an unfinished dependency" // unreachable for a valid graph
            order.append(i)
        }
        let entries = order.map(entry)

        let finish = finished.compactMap { $0 }.max() ?? request.start
        // P1–P3 must fit the window; P4 is best effort (one pass, no copies of the entries).
        var requiredFinish = request.start
        var anyBlocked = false
        var lateBestEffort: [String] = []
        for i in order {
            let priority = jobs[i].priority
            if let late = late[i] {
                warnings.append("\(originals[i].name) (\(priority)) starts \(late / 60) min after its start deadline")
            }
            guard occurrenceOf[i] == 0 else { continue }
            if priority != .p4 {
                if let end = segments[i].last?.end, end > requiredFinish { requiredFinish = end }
                if blocked[i] != nil && !isSkipped[i] { anyBlocked = true }
            } else if !isSkipped[i], (segments[i].last.map { $0.end > windowEnd } ?? true) {
                lateBestEffort.append(originals[i].name)
            }
        }
        return Plan(batch: request.batch, businessDate: businessDate, start: request.start, windowEnd: windowEnd, entries: entries,
                    predictedFinish: finish, requiredFinish: requiredFinish, fitsWindow: requiredFinish <= windowEnd && !anyBlocked,
                    lateBestEffort: lateBestEffort, warnings: warnings, criticalPaths: criticalPaths)
    }

    static func short(_ date: Date, _ zone: TimeZone) -> String {
        let local = LocalDateTime(date, in: zone)
        return String(format: "%02d:%02d", local.minute / 60, local.minute % 60)
    }
}
