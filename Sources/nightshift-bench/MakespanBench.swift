import Foundation
import NightShiftConfig
import NightShiftCore

/// `nightshift-bench makespan ROOT`: random DAGs of 25–45 P3 jobs with estimates (1–30 min), planned
/// on 2, 4 and 8 slots in a free window (a Saturday, all optimal) with the shipped windows and
/// policy. For each it reports the planned night (the Planner: longest remaining path first within
/// an aged priority) against its lower bound — the longer of the critical path and the total work
/// ÷ slots — and against the old order, by name within a priority, simulated on the same DAG.
enum MakespanBench {
    struct Random {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
    }

    static func run(root: String, dags: Int = 16) throws {
        let configuration = try Configuration.load(root: root)
        let start = ISO8601DateFormatter().date(from: "2026-11-28T00:00:00+08:00")!  // a Saturday
        print("makespan: \(dags) random DAGs of 25–45 P3 jobs (1–30 min), free window; planned night ÷ lower bound (median, worst)")
        for slots in [2, 4, 8] {
            var planned: [Double] = [], byName: [Double] = [], gains: [Double] = []
            var random = Random(state: 2026)
            var waited = 0
            for _ in 0..<dags {
                let jobs = dag(&random)
                let seconds = Dictionary(jobs.map { ($0.name, $0.estimateSeconds) }, uniquingKeysWith: { a, _ in a })
                let tails = RemainingPath.tails(of: jobs.map { ($0.name, $0.dependsOn) }, seconds: seconds)
                let critical = jobs.map { $0.estimateSeconds + tails[$0.name]! }.max()!
                let lower = Double(max(critical, (jobs.map(\.estimateSeconds).reduce(0, +) + slots - 1) / slots))
                let plan = try Planner.plan(PlanRequest(batch: .daily, jobs: jobs, start: start, schedule: configuration.schedule(.daily),
                                                        windows: configuration.windows, policy: configuration.priorityPolicy, slots: slots,
                                                        maxBatches: 1))
                waited += plan.entries.filter { $0.waited != nil && !$0.waited!.hasPrefix("no free") }.count
                let night = plan.predictedFinish.timeIntervalSince(start)
                let old = Double(listSchedule(jobs, slots: slots))
                planned.append(night / lower)
                byName.append(old / lower)
                gains.append(old / night)
            }
            func median(_ values: [Double]) -> Double { let s = values.sorted(); return (s[(s.count - 1) / 2] + s[s.count / 2]) / 2 }
            print(String(format: "  %d slots: longest path first %.3fx (worst %.3fx); by name %.3fx (worst %.3fx); by name ÷ planned %.3fx median, %.3fx worst%@",
                         slots, median(planned), planned.max()!, median(byName), byName.max()!, median(gains), gains.max()!,
                         waited > 0 ? " (\(waited) jobs waited for a window: not a free window)" : ""))
            if slots == 4 {
                print(String(format: "  goal at 4 slots: median ≤ 1.02x the lower bound: %@", median(planned) <= 1.02 ? "met" : "MISSED"))
            }
        }
    }

    /// 25–45 jobs; each depends on up to 3 earlier ones (so it is acyclic); names shuffled so that
    /// the name order says nothing about the graph.
    static func dag(_ random: inout Random) -> [JobDefinition] {
        let count = 25 + random.next(21)
        var names = (0..<count).map { "job\(String(format: "%03d", $0))" }
        for i in stride(from: count - 1, to: 0, by: -1) { names.swapAt(i, random.next(i + 1)) }
        return (0..<count).map { i in
            var dependsOn: [String] = []
            if i > 0 { for _ in 0..<random.next(4) { dependsOn.append(names[random.next(i)]) } }
            return JobDefinition(name: names[i], description: "", kind: .aggregation, batch: .daily, priority: .p3,
                                 dependsOn: Array(Set(dependsOn)).sorted(), estimateSeconds: (1 + random.next(30)) * 60, retries: 0,
                                 action: .aggregation(sql: "x.sql"))
        }
    }

    /// The old rule on the same DAG: whenever a slot is free, the ready job first by name.
    static func listSchedule(_ jobs: [JobDefinition], slots: Int) -> Int {
        var left = Dictionary(jobs.map { ($0.name, Set($0.dependsOn)) }, uniquingKeysWith: { a, _ in a })
        var ready = jobs.filter(\.dependsOn.isEmpty).map(\.name).sorted()
        let seconds = Dictionary(jobs.map { ($0.name, $0.estimateSeconds) }, uniquingKeysWith: { a, _ in a })
        var running: [(end: Int, name: String)] = []
        var clock = 0
        var done = 0
        while done < jobs.count {
            while running.count < slots, !ready.isEmpty {
                let name = ready.removeFirst()
                running.append((clock + seconds[name]!, name))
            }
            running.sort { ($0.end, $0.name) < ($1.end, $1.name) }
            let (end, name) = running.removeFirst()
            clock = end
            done += 1
            for (job, waits) in left where waits.contains(name) {
                left[job]!.remove(name)
                if left[job]!.isEmpty { ready.append(job); ready.sort() }
            }
            left[name] = nil
        }
        return clock
    }
}
