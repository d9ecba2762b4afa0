import Foundation
import NightShiftCore
import TestSupport
import XCTest

/// Longest remaining path first: the tails, the queue's order, and a night it shortens.
final class RemainingPathTests: XCTestCase {
    func testTailsAreTheLongestChainOfWorkThatWaitsOnEachJob() {
        let jobs: [(name: String, dependsOn: [String])] = [("a", []), ("b", ["a"]), ("c", ["b"]), ("d", ["a"]), ("e", ["c", "d"]), ("x", []),
                                                           ("y", ["a", "a", "missing"])]
        let seconds = ["a": 10, "b": 20, "c": 30, "d": 100, "e": 5, "x": 7, "y": 1]
        let tails = RemainingPath.tails(of: jobs, seconds: seconds)
        XCTAssertEqual(tails, ["a": 105, "b": 35, "c": 5, "d": 5, "e": 0, "x": 0, "y": 0])
    }

    func testWithinOneAgedPriorityTheLongestPathGoesFirstThenDueThenName() {
        let now = at("2026-11-17T02:00:00+08:00")
        let policy = PriorityPolicy()
        func job(_ id: Int, _ name: String, _ priority: Priority, due: Date = now, seconds: Int = 60, tail: Int = 0) -> QueuedJob {
            QueuedJob(id: id, name: name, priority: priority, due: due, seconds: seconds, checkpointed: false, tail: tail)
        }
        var queue = ReadyQueue(policy: policy, jobs: [
            job(1, "a_short", .p3, seconds: 60),
            job(2, "z_long", .p3, seconds: 60, tail: 3600),
            job(3, "m_middle", .p3, due: now.addingTimeInterval(-600), seconds: 600),  // earlier due, same aged priority
            job(4, "p4_longest", .p4, seconds: 60, tail: 99_999),
            job(5, "p2_short", .p2, seconds: 1),
            job(6, "b_short", .p3, seconds: 60),
        ])
        var order: [String] = []
        while let next = queue.pop(at: now) { order.append(next.name) }
        XCTAssertEqual(order, ["p2_short", "z_long", "m_middle", "a_short", "b_short", "p4_longest"])

        // Aging still comes first: a P3 due 2 hours ago competes as P2, ahead of a fresh P3 with a longer path.
        var aged = ReadyQueue(policy: policy, jobs: [job(1, "fresh_long", .p3, tail: 10_000), job(2, "old_short", .p3, due: now.addingTimeInterval(-7200))])
        XCTAssertEqual(aged.pop(at: now)?.name, "old_short")
        XCTAssertEqual(aged.count, 1)
    }

    /// Two slots: by name, a1 and a2 would start first and the z → z2 chain would end at 50 min;
    /// longest path first starts z at once and the night ends at 40 min, its lower bound.
    func testThePlanStartsTheCriticalChainFirstAndEndsEarlier() throws {
        let twoAM = at("2026-11-17T02:00:00+08:00")
        let jobs = [planJob("a1", minutes: 10), planJob("a2", minutes: 10), planJob("z", minutes: 10), planJob("z2", after: ["z"], minutes: 30)]
        let plan = try Planner.plan(PlanRequest(batch: .daily, jobs: jobs, start: twoAM, schedule: .defaults(.daily),
                                                windows: defaultWindows(calendar: testCalendar()), slots: 2))
        let starts = Dictionary(plan.entries.map { ($0.job.name, $0.start!.timeIntervalSince(twoAM) / 60) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(starts, ["z": 0, "a1": 0, "a2": 10, "z2": 10])
        XCTAssertEqual(plan.predictedFinish, twoAM.addingTimeInterval(40 * 60))
        // The chain that sets the finish, and each job's slack to the window end.
        XCTAssertEqual(plan.criticalPath, ["z", "z2"])
        XCTAssertEqual(plan.entries.filter(\.critical).map(\.job.name).sorted(), ["z", "z2"])
        let window = Int(plan.windowEnd.timeIntervalSince(twoAM))
        let slack = Dictionary(plan.entries.map { ($0.job.name, $0.slack!) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(slack, ["z": window - 40 * 60, "z2": window - 40 * 60, "a1": window - 10 * 60, "a2": window - 20 * 60])
    }
}
