import Foundation

/// A job running now (on any runner), as the decision model sees it.
public struct ActiveJob: Sendable, Equatable {
    public let job: QueuedJob
    /// When this attempt (or resumption) started: preemption pauses the most recent first.
    public let started: Date
    /// A pause was asked for already; the job stops at its next checkpoint.
    public let pausing: Bool

    public init(job: QueuedJob, started: Date, pausing: Bool = false) {
        self.job = job
        self.started = started
        self.pausing = pausing
    }
}

/// What the machine reports before a start (nil: not measured, e.g. in a plan).
public struct ResourceReading: Sendable, Equatable {
    /// The 1-minute load average divided by the number of cores.
    public let loadPerCore: Double?
    /// The free fraction of the volume holding the exports.
    public let exportsFreeFraction: Double?

    public init(loadPerCore: Double? = nil, exportsFreeFraction: Double? = nil) {
        self.loadPerCore = loadPerCore
        self.exportsFreeFraction = exportsFreeFraction
    }

    public static let unmeasured = ResourceReading()
}

/// The limits the decision model enforces besides windows and priorities.
public struct DispatchLimits: Sendable, Equatable {
    /// Batch runs that may have work started at once (`limits.max_concurrent_batches`).
    public let maxBatches: Int
    /// Above this load per core, P4 work waits and running P4 work pauses at a checkpoint.
    public let loadLimit: Double
    /// Below this free fraction of the exports volume, exports wait.
    public let exportsFreeMinimum: Double

    public init(maxBatches: Int = 2, loadLimit: Double = 0.8, exportsFreeMinimum: Double = 0.2) {
        self.maxBatches = maxBatches
        self.loadLimit = loadLimit
        self.exportsFreeMinimum = exportsFreeMinimum
    }
}

/// Everything one decision depends on. The dispatcher reads it from the database (all runners'
/// jobs) and the machine; `plan` builds it from its simulated night.
public struct DispatchState: Sendable {
    public let now: Date
    /// Every running job, on every runner.
    public let running: [ActiveJob]
    /// Slots free for this decision (the runner's idle workers; in a plan, the free slots).
    public let freeSlots: Int
    /// No slot is free on any runner: a P1 job may preempt.
    public let noSlotAnywhere: Bool
    /// Batch runs under way: those with work running or paused (on any runner), each with the most
    /// urgent priority of that work. A batch run whose jobs all wait (deferred by a window, or on
    /// their dependencies) is not under way and takes no place in `limits.max_concurrent_batches`.
    public let activeBatches: [Int: Priority]
    public let resources: ResourceReading

    public init(now: Date, running: [ActiveJob], freeSlots: Int, noSlotAnywhere: Bool, activeBatches: [Int: Priority],
                resources: ResourceReading = .unmeasured) {
        self.now = now
        self.running = running
        self.freeSlots = freeSlots
        self.noSlotAnywhere = noSlotAnywhere
        self.activeBatches = activeBatches
        self.resources = resources
    }
}

/// What to do now.
public struct DispatchDecision: Sendable {
    /// Why a job does not start now, and until when (nil: until something else changes).
    public enum Obstacle: Sendable, Hashable {
        /// The window does not let its priority start (until nil: no window within the horizon does).
        case window(until: Date?)
        /// A job without checkpoints would run into a `never` window; it waits until that ends.
        case neverWindowAhead(until: Date)
        case lock(String, heldBy: String)
        case batchLimit
        case load
        case disk
    }

    public struct Wait: Sendable {
        public let job: QueuedJob
        public let obstacle: Obstacle
        /// The window decision behind a window wait: its words are formatted only when asked for
        /// (a plan defers thousands of jobs and reads few reasons).
        let window: WindowDecision?
        let text: String?

        init(job: QueuedJob, obstacle: Obstacle, reason: String) {
            self.job = job
            self.obstacle = obstacle
            window = nil
            text = reason
        }

        init(job: QueuedJob, obstacle: Obstacle, window: WindowDecision) {
            self.job = job
            self.obstacle = obstacle
            self.window = window
            text = nil
        }

        public var reason: String { text ?? window?.reason ?? "" }
    }

    public enum PauseCause: String, Sendable, Equatable, CaseIterable {
        case window, preempted, load
    }

    public struct Pause: Sendable {
        public let job: ActiveJob
        public let cause: PauseCause
        public let reason: String
    }

    public struct Violation: Sendable {
        public let job: ActiveJob
        public let reason: String
    }

    /// Start these, in this order.
    public var starts: [QueuedJob] = []
    /// The window decision each start was made under (same order as `starts`).
    public var startWindows: [WindowDecision] = []
    /// Ask these to pause at their next checkpoint.
    public var pauses: [Pause] = []
    /// These do not start now (the rest of the queue simply waits for a slot).
    public var waits: [Wait] = []
    /// Running jobs that cannot pause and now run where their window forbids (recorded, reported).
    public var violations: [Violation] = []
    /// Starts past the priority's start deadline (P1 at once, P2 within the hour), in seconds late.
    public var lateStarts: [(job: QueuedJob, seconds: Int)] = []
}

/// The one decision model of NightShift: given the queue and the state, what starts, what pauses
/// and what waits until when. `plan` calls it over a simulated clock; the dispatcher calls it on
/// every pass. Every window, priority, slot, lock and limit rule is here, and only here:
///
/// 1. A running job whose window no longer lets its priority run pauses at its next checkpoint;
///    one that cannot pause and has entered a `never` window is a violation. Running P4 work
///    pauses when the machine is overloaded.
/// 2. Jobs start in queue order (aged priority, due, name) while slots are free, unless an
///    obstacle holds them: the batch limit (batch runs with work running or paused; for a P1 job
///    only those doing P1 work count), the window at this instant (decided on the job's own
///    priority, re-checked at every start), a `never` window the job would run into when it cannot
///    pause, the load (P4) or the exports volume (exports), or a lock another job holds.
/// 3. When no slot is free anywhere and a P1 job could start, the running P4, then P3, job that
///    started most recently pauses at its next checkpoint; the P1 job takes its slot.
public struct DispatchModel: Sendable {
    public let windows: WindowSet
    public let policy: PriorityPolicy
    public let limits: DispatchLimits

    public init(windows: WindowSet, policy: PriorityPolicy, limits: DispatchLimits = DispatchLimits()) {
        self.windows = windows
        self.policy = policy
        self.limits = limits
    }

    public func decide(_ queue: inout ReadyQueue, _ state: DispatchState) -> DispatchDecision {
        var memo = WindowMemo()
        return decide(&queue, state, memo: &memo)
    }

    /// `memo` keeps window decisions between calls (a plan's simulated night).
    public func decide(_ queue: inout ReadyQueue, _ state: DispatchState, memo: inout WindowMemo) -> DispatchDecision {
        var decision = DispatchDecision()
        let now = state.now
        func window(_ priority: Priority) -> WindowDecision { memo.decide(priority, at: now, in: windows) }
        let overloaded = state.resources.loadPerCore.map { $0 > limits.loadLimit } ?? false

        // 1. Running jobs that may no longer run.
        var pausingCount = 0
        for active in state.running where active.pausing { pausingCount += 1 }
        for active in state.running where !active.pausing {
            let window = window(active.job.priority)
            if window.verdict != .allowed {
                if active.job.checkpointed {
                    decision.pauses.append(.init(job: active, cause: .window, reason: "paused at a checkpoint: \(window.reason)"))
                } else if window.rule == .never {
                    decision.violations.append(.init(job: active, reason: "runs inside a never window and cannot pause: \(window.reason)"))
                }
            } else if overloaded, active.job.priority == .p4, active.job.checkpointed {
                decision.pauses.append(.init(job: active, cause: .load, reason: "paused at a checkpoint: \(loadText(state.resources))"))
            }
        }
        pausingCount += decision.pauses.count

        // 2. Starts, in queue order.
        var held: [String: String] = [:]
        for active in state.running { for lock in active.job.locks { held[lock] = active.job.name } }
        var batches = state.activeBatches
        var free = state.freeSlots
        while free > 0, let job = queue.pop(at: now) {
            let window = window(job.priority)
            if let wait = obstacle(job, now: now, window: window, held: held, batches: batches, resources: state.resources, memo: &memo) {
                decision.waits.append(wait)
                continue
            }
            decision.starts.append(job)
            decision.startWindows.append(window)
            free -= 1
            if (batches[job.batchRun] ?? .p4) > job.priority { batches[job.batchRun] = job.priority }
            for lock in job.locks { held[lock] = job.name }
            if let latest = policy.latestStart(job.priority, due: job.due), now > latest {
                decision.lateStarts.append((job, Int(now.timeIntervalSince(latest))))
            }
        }

        // 3. Preemption: P1 work at the head of the queue and no slot anywhere.
        if free == 0 && state.noSlotAnywhere {
            let paused = Set(decision.pauses.map(\.job.job.id))
            var candidates = state.running.filter { !$0.pausing && !paused.contains($0.job.id) && $0.job.checkpointed }
            var inspected: [QueuedJob] = []
            while let head = queue.peek(at: now), head.priority == .p1 {
                _ = queue.pop(at: now)
                if let wait = obstacle(head, now: now, window: window(head.priority), held: held, batches: batches, resources: state.resources,
                                       memo: &memo) {
                    decision.waits.append(wait)
                    continue
                }
                inspected.append(head)
                // A slot already being freed (a pause asked for earlier) goes to this job.
                if pausingCount > 0 {
                    pausingCount -= 1
                    continue
                }
                let running = candidates.map { PriorityPolicy.RunningJob(name: String($0.job.id), priority: $0.job.priority, started: $0.started) }
                guard let victimID = policy.jobsToPause(for: .p1, running: running, capacity: running.count).first.flatMap({ Int($0.name) }),
                      let victim = candidates.first(where: { $0.job.id == victimID }) else { break }
                candidates.removeAll { $0.job.id == victimID }
                decision.pauses.append(.init(job: victim, cause: .preempted,
                                             reason: "preempted by \(head.name) (P1): paused at a checkpoint, resumes from it"))
            }
            for job in inspected { queue.push(job) }
        }
        return decision
    }

    /// Why `job` cannot start at `now`, or nil when it can.
    func obstacle(_ job: QueuedJob, now: Date, window: WindowDecision, held: [String: String], batches: [Int: Priority],
                  resources: ResourceReading, memo: inout WindowMemo) -> DispatchDecision.Wait? {
        func wait(_ obstacle: DispatchDecision.Obstacle, _ reason: String) -> DispatchDecision.Wait {
            DispatchDecision.Wait(job: job, obstacle: obstacle, reason: reason)
        }
        if batches[job.batchRun] == nil && batches.count >= limits.maxBatches {
            // P1 is processed at once: batches doing only lower-priority work do not hold it back
            // (it takes their place as it takes their slot, rule 3).
            let holding = job.priority == .p1 ? batches.values.filter { $0 == .p1 }.count : batches.count
            if holding >= limits.maxBatches {
                return wait(.batchLimit, "\(batches.count) batches are running (limits.max_concurrent_batches: \(limits.maxBatches))")
            }
        }
        switch window.verdict {
        case .allowed: break
        case let .deferred(until): return DispatchDecision.Wait(job: job, obstacle: .window(until: until), window: window)
        case .notAllowed: return DispatchDecision.Wait(job: job, obstacle: .window(until: nil), window: window)
        }
        // A job that cannot pause must not run into a `never` window (none within the rule's
        // current stretch: nothing to look up).
        if !job.checkpointed, now.addingTimeInterval(TimeInterval(job.seconds)) > memo.rule(at: now, in: windows).until,
           let never = windows.neverWindowAhead(from: now, seconds: job.seconds) {
            let zone = windows.zone
            return wait(.neverWindowAhead(until: never.ends),
                        "it cannot pause and is expected to run \(minutes(job.seconds)), into the never window at \(never.begins.iso8601(in: zone)); starts after it ends at \(never.ends.iso8601(in: zone))")
        }
        if job.priority == .p4, let load = resources.loadPerCore, load > limits.loadLimit {
            return wait(.load, "P4 waits: \(loadText(resources))")
        }
        if job.writesExports, let free = resources.exportsFreeFraction, free < limits.exportsFreeMinimum {
            return wait(.disk, String(format: "the exports volume has %.0f%% free, under the %.0f%% minimum", free * 100, limits.exportsFreeMinimum * 100))
        }
        if let lock = job.locks.first(where: { held[$0] != nil }) {
            return wait(.lock(lock, heldBy: held[lock]!), "lock \(lock) is held by \(held[lock]!)")
        }
        return nil
    }

    private func loadText(_ resources: ResourceReading) -> String {
        String(format: "system load is %.0f%% of the cores, over the %.0f%% limit", (resources.loadPerCore ?? 0) * 100, limits.loadLimit * 100)
    }

    private func minutes(_ seconds: Int) -> String { seconds < 120 ? "\(seconds) s" : "\(seconds / 60) min" }
}
