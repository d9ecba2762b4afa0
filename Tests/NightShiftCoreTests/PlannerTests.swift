import Foundation
import NightShiftCore
import TestSupport
import XCTest

func planJob(_ name: String, _ priority: Priority = .p3, after deps: [String] = [], minutes: Int = 10, locks: [String] = []) -> JobDefinition {
    JobDefinition(name: name, description: "", kind: .aggregation, batch: .daily, priority: priority, dependsOn: deps,
                  estimateSeconds: minutes * 60, retries: 3, locks: locks, action: .aggregation(sql: "x.sql"))
}

final class PlannerTests: XCTestCase {
    let windows = defaultWindows(calendar: testCalendar())
    let twoAM = at("2026-11-17T02:00:00+08:00") // a Tuesday

    func plan(_ jobs: [JobDefinition], start: Date? = nil, slots: Int = 1, overrides: [ManualOverride] = [],
              history: [String: (seconds: Double, runs: Int)] = [:], windows: WindowSet? = nil) throws -> Plan {
        try Planner.plan(PlanRequest(batch: .daily, jobs: jobs, start: start ?? twoAM, schedule: .defaults(.daily),
                                     windows: windows ?? self.windows, history: history, overrides: overrides, slots: slots))
    }

    func testSequentialPlanInDependencyAndPriorityOrder() throws {
        let result = try plan([planJob("export", after: ["summary", "charges"], minutes: 5), planJob("charges", minutes: 20),
                               planJob("summary", .p2, minutes: 10), planJob("trends", .p4, minutes: 30)])
        XCTAssertEqual(result.entries.map(\.job.name), ["summary", "charges", "export", "trends"])
        XCTAssertEqual(result.entries.map { $0.start!.timeIntervalSince(twoAM) / 60 }, [0, 10, 30, 35])
        XCTAssertEqual(result.predictedFinish, twoAM.addingTimeInterval(65 * 60))
        XCTAssertTrue(result.fitsWindow)
        XCTAssertEqual(result.businessDate.description, "2026-11-16")
        XCTAssertEqual(result.entries[0].decision?.windowName, "weekday_night")
    }

    func testPastDurationsReplaceEstimates() throws {
        let result = try plan([planJob("a", minutes: 10)], history: ["a": (seconds: 123.4, runs: 5)])
        XCTAssertEqual(result.entries[0].seconds, 123)
        XCTAssertEqual(result.entries[0].source, .history(runs: 5))
        XCTAssertEqual(try plan([planJob("a", minutes: 10)]).entries[0].source, .estimate)
    }

    func testLowPriorityWaitsForItsWindowWhileOthersRun() throws {
        let nine = at("2026-11-17T09:00:00+08:00")
        let result = try plan([planJob("low", .p4, minutes: 5), planJob("high", .p2, minutes: 5)], start: nine)
        let low = result.entries.first { $0.job.name == "low" }!
        XCTAssertEqual(low.start, at("2026-11-18T02:00:00+08:00"))
        XCTAssertTrue(low.waited!.hasPrefix("deferred until 2026-11-18T02:00:00+08:00 (weekday_night, optimal)"), low.waited!)
        XCTAssertTrue(low.decision!.reason.hasPrefix("allowed: weekday_night"), "the decision at the start, not when it became ready")
        XCTAssertEqual(result.entries.first { $0.job.name == "high" }!.start, nine)
        XCTAssertTrue(result.fitsWindow, "P4 is best effort")
        XCTAssertEqual(result.lateBestEffort, ["low"])
    }

    func testNotFittingAndStartDeadlines() throws {
        let result = try plan([planJob("long", .p3, minutes: 200), planJob("urgent", .p2, after: ["long"], minutes: 60)])
        XCTAssertFalse(result.fitsWindow)
        XCTAssertEqual(result.requiredFinish, twoAM.addingTimeInterval(260 * 60))
        XCTAssertEqual(result.entries[1].lateBy, 200 * 60 - 3600)
        XCTAssertTrue(result.warnings.contains("urgent (P2) starts 140 min after its start deadline"), "\(result.warnings)")
    }

    func testExclusiveLocksNeverOverlap() throws {
        let result = try plan([planJob("a", minutes: 30, locks: ["erp.deliveries"]), planJob("b", minutes: 30, locks: ["erp.deliveries"]),
                               planJob("c", minutes: 30)], slots: 2)
        let byName = Dictionary(uniqueKeysWithValues: result.entries.map { ($0.job.name, $0) })
        XCTAssertEqual(byName["a"]!.start, twoAM)
        XCTAssertEqual(byName["c"]!.start, twoAM, "no lock: runs beside a")
        XCTAssertEqual(byName["b"]!.start, twoAM.addingTimeInterval(1800), "waits for a's lock")
    }

    func testOverridesSkipAJobOrDropADependency() throws {
        let jobs = [planJob("summary", .p2, minutes: 10), planJob("charges", minutes: 20), planJob("export", after: ["summary", "charges"], minutes: 5)]
        let skip = ManualOverride(job: "charges", action: .skip, requestedBy: "alice", reason: "rerun tomorrow")
        let skipped = try plan(jobs, overrides: [skip])
        let charges = skipped.entries.first { $0.job.name == "charges" }!
        XCTAssertEqual(charges.status, .skipped)
        XCTAssertEqual(charges.overrides.first?.summary, "skipped by alice: rerun tomorrow")
        XCTAssertEqual(skipped.entries.first { $0.job.name == "export" }!.start, twoAM.addingTimeInterval(600))

        // Two slots: summary and charges start together; export normally waits for charges (02:20)…
        XCTAssertEqual(try plan(jobs, slots: 2).entries.first { $0.job.name == "export" }!.start, twoAM.addingTimeInterval(1200))
        // …but told not to wait for charges it starts when summary is done (02:10).
        let early = ManualOverride(job: "export", action: .ignoreDependency("charges"), requestedBy: "bob", reason: "charges are late")
        let result = try plan(jobs, slots: 2, overrides: [early])
        let export = result.entries.first { $0.job.name == "export" }!
        XCTAssertEqual(export.waitsFor, ["summary"])
        XCTAssertEqual(export.start, twoAM.addingTimeInterval(600))
        XCTAssertEqual(export.overrides.map(\.requestedBy), ["bob"])
    }

    func testRandomDAGsRespectEdgesLocksAndSlots() throws {
        var rng = SplitMix(seed: 99)
        let open = WindowSet(windows: [], allowed: [.open: Set(Priority.allCases)], calendar: testCalendar(),
                             zone: TimeZone(identifier: "Asia/Taipei")!)
        for _ in 0..<40 {
            let count = Int(rng.next() % 80) + 1
            var jobs: [JobDefinition] = []
            for i in 0..<count {
                let deps = (0..<i).filter { _ in rng.next() % 6 == 0 }.map { "j\($0)" }
                let locks = rng.next() % 4 == 0 ? ["lock\(rng.next() % 3)"] : []
                jobs.append(planJob("j\(i)", Priority(rawValue: Int(rng.next() % 4) + 1)!, after: deps,
                                    minutes: Int(rng.next() % 30) + 1, locks: locks))
            }
            let slots = Int(rng.next() % 3) + 1
            let result = try plan(jobs.shuffled(), slots: slots, windows: open)
            XCTAssertEqual(result.entries.count, count)
            let byName = Dictionary(uniqueKeysWithValues: result.entries.map { ($0.job.name, $0) })
            for entry in result.entries {
                for dep in entry.job.dependsOn { XCTAssertLessThanOrEqual(byName[dep]!.finish!, entry.start!) }
            }
            let intervals = result.entries.map { ($0.start!, $0.finish!, $0.job.locks) }
            for (i, a) in intervals.enumerated() {
                let runningAtStart = intervals.filter { $0.0 <= a.0 && a.0 < $0.1 }
                XCTAssertLessThanOrEqual(runningAtStart.count, slots)
                for (j, b) in intervals.enumerated() where j != i && b.0 < a.1 && a.0 < b.1 {
                    XCTAssertTrue(Set(a.2).isDisjoint(with: b.2), "lock held twice")
                }
            }
        }
    }

    func testRandomCyclesAreAllFound() {
        var rng = SplitMix(seed: 5)
        for _ in 0..<100 {
            let count = Int(rng.next() % 30) + 2
            var deps: [[String]] = (0..<count).map { i in (0..<i).filter { _ in rng.next() % 4 == 0 }.map { "j\($0)" } }
            // Close a cycle: a lower job depends on a higher one that already (transitively) needs it, or directly.
            let low = Int(rng.next() % UInt64(count - 1)), high = low + 1 + Int(rng.next() % UInt64(count - low - 1))
            deps[high].append("j\(low)")
            deps[low].append("j\(high)")
            let jobs = (0..<count).map { planJob("j\($0)", after: deps[$0]) }
            XCTAssertThrowsError(try DependencyGraph(jobs)) { error in
                guard case let .cycle(path) = error as! DependencyGraph.Problem else { return XCTFail("\(error)") }
                XCTAssertEqual(path.first, path.last)
                let byName = Dictionary(uniqueKeysWithValues: jobs.map { ($0.name, $0) })
                for (from, to) in zip(path, path.dropFirst()) { XCTAssertTrue(byName[to]!.dependsOn.contains(from), "\(from) → \(to) is not an edge") }
            }
        }
    }
}

final class AgingTests: XCTestCase {
    func testAgingReordersTheQueueButNeverOpensAWindow() throws {
        let windows = defaultWindows(calendar: testCalendar())
        let nine = at("2026-11-17T09:00:00+08:00")
        // Waiting since 07:00 (2 h): the P4 job competes as P3, yet may still only start in an optimal window.
        let result = try Planner.plan(PlanRequest(batch: .daily, jobs: [planJob("low", .p4, minutes: 5)], start: nine,
                                                  schedule: .defaults(.daily), windows: windows,
                                                  dueTimes: ["low": nine.addingTimeInterval(-7200)]))
        XCTAssertEqual(result.entries[0].effectivePriority, .p3)
        XCTAssertEqual(result.entries[0].start, at("2026-11-18T02:00:00+08:00"))
        // Among ready jobs the aged one goes first: an old P4 before a fresh P3 at night.
        let night = at("2026-11-17T03:00:00+08:00")
        let queued = try Planner.plan(PlanRequest(batch: .daily, jobs: [planJob("fresh", .p3), planJob("old", .p4)], start: night,
                                                  schedule: .defaults(.daily), windows: windows,
                                                  dueTimes: ["old": night.addingTimeInterval(-7200)]))
        XCTAssertEqual(queued.entries.map(\.job.name), ["old", "fresh"], "same aged priority, older first")
    }
}

/// The planner runs the night through the same decision model as the dispatcher.
final class PlannerDecisionTests: XCTestCase {
    let windows = defaultWindows(calendar: testCalendar())

    func job(_ name: String, _ priority: Priority, kind: JobKind = .aggregation, after deps: [String] = [], minutes: Int,
             locks: [String] = []) -> JobDefinition {
        let action: JobAction = switch kind {
        case .calculation: .calculation(CalculationSpec(stagingSQL: "s", stageSQL: "s", applySQL: "a", keyColumn: "id", chunkSize: 1000))
        case .export: .export(ExportSpec(querySQL: "q", fileName: "f", rowsPerFile: 50000, recipients: ["r"]))
        default: .aggregation(sql: "x.sql")
        }
        return JobDefinition(name: name, description: "", kind: kind, batch: .daily, priority: priority, dependsOn: deps,
                             estimateSeconds: minutes * 60, retries: 3, locks: locks, action: action)
    }

    func plan(_ jobs: [JobDefinition], start: Date, slots: Int) throws -> Plan {
        try Planner.plan(PlanRequest(batch: .daily, jobs: jobs, start: start, schedule: .defaults(.daily), windows: windows, slots: slots))
    }

    /// Regression: a P4 job deferred to 02:00 that then waited for a slot until 06:00 started at
    /// 06:00 on a workday (where P4 may not start) with a decision column still saying "deferred
    /// until 02:00". The window is decided again at the start: it waits for the next night.
    func testAJobDeferredThenWaitingForASlotIsDecidedAgainWhenItStarts() throws {
        let one = at("2026-11-17T01:00:00+08:00") // Tuesday, before the optimal night window
        let result = try plan([job("long_a", .p3, minutes: 300), job("long_b", .p3, minutes: 300),
                               job("customer_consumption", .p4, minutes: 10)], start: one, slots: 2)
        let consumption = result.entries.first { $0.job.name == "customer_consumption" }!
        XCTAssertEqual(consumption.start, at("2026-11-18T02:00:00+08:00"))
        XCTAssertEqual(consumption.decision?.verdict, .allowed)
        XCTAssertEqual(consumption.decision?.windowName, "weekday_night")
        XCTAssertTrue(consumption.waited!.hasPrefix("deferred until 2026-11-18T02:00:00+08:00"), consumption.waited!)
    }

    func testACheckpointedJobPausesForBusinessHoursAndResumesAfter() throws {
        let five = at("2026-11-17T05:00:00+08:00")
        let result = try plan([job("charges", .p3, kind: .calculation, minutes: 300)], start: five, slots: 1)
        let charges = result.entries[0]
        XCTAssertEqual(charges.segments, [DateInterval(start: five, end: at("2026-11-17T08:00:00+08:00")),
                                          DateInterval(start: at("2026-11-17T18:00:00+08:00"), end: at("2026-11-17T20:00:00+08:00"))])
        XCTAssertEqual(charges.pauses.count, 1)
        XCTAssertTrue(charges.pauses[0].contains("business_hours"), charges.pauses[0])
        // A set-based job of the same length cannot pause: it starts only where it can finish
        // before a never window, and may run on into business hours (avoid).
        let setBased = try plan([job("rebuild", .p3, minutes: 300)], start: five, slots: 1).entries[0]
        XCTAssertEqual(setBased.segments.count, 1)
        XCTAssertEqual(setBased.start, five, "05:00 + 5 h = 10:00, before the 11:30 lunch peak")
        let later = try plan([job("rebuild", .p3, minutes: 300)], start: at("2026-11-17T07:00:00+08:00"), slots: 1).entries[0]
        XCTAssertEqual(later.start, at("2026-11-17T18:00:00+08:00"), "07:00 + 5 h would reach lunch peak; business hours then defer P3")
    }

    func testLocksKeepJobsApartInThePlan() throws {
        let two = at("2026-11-17T02:00:00+08:00")
        let result = try plan([job("a", .p3, minutes: 30, locks: ["deliveries"]), job("b", .p3, minutes: 30, locks: ["deliveries"]),
                               job("c", .p3, minutes: 30)], start: two, slots: 3)
        let starts = Dictionary(uniqueKeysWithValues: result.entries.map { ($0.job.name, $0.start!) })
        XCTAssertEqual(starts["a"], two)
        XCTAssertEqual(starts["c"], two)
        XCTAssertEqual(starts["b"], two.addingTimeInterval(1800))
    }

    func testOccurrencesOfOneNightShareSlotsAndTheBatchLimit() throws {
        let two = at("2026-11-17T02:00:00+08:00")
        func batchJob(_ name: String, _ batch: BatchKind, _ priority: Priority, minutes: Int) -> JobDefinition {
            JobDefinition(name: name, description: "", kind: .aggregation, batch: batch, priority: priority, dependsOn: [],
                          estimateSeconds: minutes * 60, retries: 3, action: .aggregation(sql: "x.sql"))
        }
        let result = try Planner.plan(PlanRequest(
            batch: .daily, jobs: [batchJob("d1", .daily, .p3, minutes: 30), batchJob("d2", .daily, .p3, minutes: 30)], start: two,
            schedule: .defaults(.daily), windows: windows, slots: 2,
            others: [PlanOccurrence(batch: .weekly, start: two, jobs: [batchJob("w1", .weekly, .p2, minutes: 10)]),
                     PlanOccurrence(batch: .monthly, start: two.addingTimeInterval(300), jobs: [batchJob("m1", .monthly, .p1, minutes: 10)])],
            maxBatches: 2))
        let starts = Dictionary(uniqueKeysWithValues: result.entries.map { ($0.job.name, $0.start!) })
        XCTAssertEqual(starts["w1"], two, "P2 first")
        XCTAssertEqual(starts["d1"], two)
        // The monthly occurrence arrives at 02:05 with two batches under way: it waits for one to end
        // (the weekly one, at 02:10), although it is P1 — the batch limit holds before priorities.
        XCTAssertEqual(starts["m1"], two.addingTimeInterval(600))
        XCTAssertEqual(starts["d2"], two.addingTimeInterval(1200))
        XCTAssertEqual(result.entries.first { $0.job.name == "m1" }?.occurrence, 2)
    }

    /// Random nights with the real windows: nothing starts where its window forbids, a
    /// checkpointed job never runs where its priority may not, a set-based job never runs into a
    /// never window, no two jobs sharing a lock overlap, and every dependency finishes first.
    func testRandomNightsNeverRunOutsideAnAllowedWindow() throws {
        var rng = SystemRandomNumberGenerator()
        let kinds: [JobKind] = [.aggregation, .calculation, .export]
        for night in 0..<300 {
            let count = Int.random(in: 1...14, using: &rng)
            var jobs: [JobDefinition] = []
            for i in 0..<count {
                let deps = (0..<i).filter { _ in Int.random(in: 0..<5, using: &rng) == 0 }.map { "j\($0)" }
                let locks = Int.random(in: 0..<4, using: &rng) == 0 ? ["t\(Int.random(in: 0..<2, using: &rng))"] : []
                jobs.append(job("j\(i)", Priority(rawValue: Int.random(in: 1...4, using: &rng))!, kind: kinds.randomElement(using: &rng)!,
                                after: deps, minutes: Int.random(in: 1...400, using: &rng), locks: locks))
            }
            // Any instant of November 2026 (workdays, weekends, a make-up Saturday, month end).
            let start = at("2026-11-01T00:00:00+08:00").addingTimeInterval(TimeInterval(Int.random(in: 0..<(29 * 86400), using: &rng)))
            let result = try plan(jobs, start: start, slots: Int.random(in: 1...3, using: &rng))
            let byName = Dictionary(uniqueKeysWithValues: result.entries.map { ($0.job.name, $0) })
            for entry in result.entries where entry.status == .scheduled {
                let context = "night \(night) from \(start): \(entry.job.name) \(entry.job.priority) \(entry.job.kind) \(entry.segments)"
                XCTAssertEqual(entry.segments.reduce(0) { $0 + $1.duration }, TimeInterval(entry.seconds), accuracy: Double(entry.segments.count), context)
                for segment in entry.segments {
                    XCTAssertEqual(windows.decide(entry.job.priority, at: segment.start).verdict, .allowed, context)
                    if entry.job.kind == .calculation {
                        XCTAssertNil(windows.firstDisallowed(entry.job.priority, from: segment.start, to: segment.end), context)
                    } else {
                        XCTAssertNil(windows.neverWindowAhead(from: segment.start, seconds: Int(segment.duration)), context)
                    }
                }
                for dep in entry.job.dependsOn {
                    if let finish = byName[dep]?.finish { XCTAssertLessThanOrEqual(finish, entry.start!, context) }
                }
                for other in result.entries where other.job.name < entry.job.name && !Set(other.job.locks).isDisjoint(with: entry.job.locks) {
                    for a in entry.segments { for b in other.segments { XCTAssertFalse(a.intersects(b) && a.intersection(with: b)!.duration > 0, context) } }
                }
            }
        }
    }
}
