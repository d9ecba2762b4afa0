import Foundation
import NightShiftCore
import TestSupport
import XCTest

/// The forecast of a batch under way: the same simulation as a plan, from now, with what ended,
/// what runs and what waits as it is.
final class PlanProgressTests: XCTestCase {
    let twoAM = at("2026-11-17T02:00:00+08:00")
    func minutes(_ m: Double) -> Date { twoAM.addingTimeInterval(m * 60) }

    /// a (10) → b (20) → d (5); c (30) alone; e (5) after c. Two slots. At 02:25: a ended at 02:12
    /// (it ran long), b runs since 02:12 with 8 min left, c ended (failed), so e cannot run.
    func testTheRestOfTheNightIsPlannedFromNowWithWhatRunsAndWhatEnded() throws {
        let jobs = [planJob("a", minutes: 10), planJob("b", after: ["a"], minutes: 20), planJob("c", minutes: 30),
                    planJob("d", after: ["b"], minutes: 5), planJob("e", after: ["c"], minutes: 5), planJob("f", minutes: 4)]
        let now = minutes(25)
        let plan = try Planner.plan(PlanRequest(
            batch: .daily, jobs: jobs, start: twoAM, schedule: .defaults(.daily), windows: defaultWindows(calendar: testCalendar()), slots: 2,
            now: now, progress: ["a": .done(start: twoAM, end: minutes(12)), "b": .running(since: minutes(12), left: 8 * 60),
                                 "c": .ended(start: twoAM, end: minutes(20), why: "failed: 22012 division by zero"),
                                 "f": .waiting(left: 4 * 60, notBefore: minutes(40))]))
        let entry = Dictionary(plan.entries.map { ($0.job.name, $0) }, uniquingKeysWith: { a, _ in a })
        // What ended stays where it was.
        XCTAssertEqual(entry["a"]?.start, twoAM)
        XCTAssertEqual(entry["a"]?.finish, minutes(12))
        XCTAssertEqual(entry["c"]?.status, .blocked("failed: 22012 division by zero"))
        XCTAssertEqual(entry["e"]?.status, .blocked("dependency c cannot start"))
        // b goes on from its stretch's start and ends in 8 minutes; d follows; f waits for its back-off.
        XCTAssertEqual(entry["b"]?.start, minutes(12))
        XCTAssertEqual(entry["b"]?.finish, minutes(33))
        XCTAssertEqual(entry["d"]?.start, minutes(33))
        XCTAssertEqual(entry["d"]?.finish, minutes(38))
        XCTAssertEqual(entry["f"]?.start, minutes(40))
        XCTAssertEqual(entry["f"]?.finish, minutes(44))
        XCTAssertEqual(entry["b"]?.seconds, 20 * 60, "the expected duration is shown, not what is left")
        // The critical path runs through what ended and what runs: a → b → d sets the finish... but f ends last.
        XCTAssertEqual(plan.predictedFinish, minutes(44))
        XCTAssertEqual(plan.criticalPath, ["f"])
        XCTAssertEqual(plan.entries.filter(\.critical).map(\.job.name), ["f"])
        let window = plan.windowEnd
        XCTAssertEqual(entry["d"]?.slack, Int(window.timeIntervalSince(minutes(38))))
        XCTAssertEqual(entry["a"]?.slack, Int(window.timeIntervalSince(minutes(12))) - (8 + 5) * 60, "a's tail is what is left after it")
        XCTAssertFalse(plan.fitsWindow, "a failed job's dependent cannot start: the batch cannot complete")
    }

    /// Without progress and with now at the start, a forecast is the plan.
    func testAForecastFromTheStartWithoutProgressIsThePlan() throws {
        let jobs = [planJob("a", minutes: 10), planJob("b", after: ["a"], minutes: 20), planJob("c", minutes: 30)]
        let plain = try Planner.plan(PlanRequest(batch: .daily, jobs: jobs, start: twoAM, schedule: .defaults(.daily),
                                                 windows: defaultWindows(calendar: testCalendar()), slots: 2))
        let forecast = try Planner.plan(PlanRequest(batch: .daily, jobs: jobs, start: twoAM, schedule: .defaults(.daily),
                                                    windows: defaultWindows(calendar: testCalendar()), slots: 2, now: twoAM, progress: [:]))
        XCTAssertEqual(plain.entries.map(\.job.name), forecast.entries.map(\.job.name))
        XCTAssertEqual(plain.entries.map(\.start), forecast.entries.map(\.start))
        XCTAssertEqual(plain.criticalPath, forecast.criticalPath)
    }

    /// A held job (what-if) does not run and blocks what waits on it; the critical path moves.
    func testAHeldJobBlocksItsDependentsAndMovesTheCriticalPath() throws {
        let jobs = [planJob("a", minutes: 10), planJob("b", after: ["a"], minutes: 60), planJob("c", minutes: 30)]
        let held = try Planner.plan(PlanRequest(batch: .daily, jobs: jobs, start: twoAM, schedule: .defaults(.daily),
                                                windows: defaultWindows(calendar: testCalendar()), slots: 2, progress: ["a": .held]))
        let entry = Dictionary(held.entries.map { ($0.job.name, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(entry["a"]?.status, .blocked("held (what-if)"))
        XCTAssertEqual(entry["b"]?.status, .blocked("dependency a cannot start"))
        XCTAssertEqual(held.criticalPath, ["c"])
    }
}
