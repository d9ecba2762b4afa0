import Foundation
@testable import NightShiftCore
import XCTest

/// The night's Gantt chart as table cells: slots in local time, the window rule of every slot,
/// each job's runs, pauses and failures, and the batches' deadlines.
final class NightTimelineTests: XCTestCase {
    let windows = defaultWindows(calendar: testCalendar())

    func testSlotsRulesBarsAndDeadlinesOfAWeekdayNight() {
        // Monday 2026-11-23 (a workday): optimal 02:00-06:00, open 06:00-08:00, avoid from 08:00.
        let jobs = [
            NightTimeline.Job(name: "sales", batch: "daily", priority: .p2, bars: [
                NightTimeline.Bar(start: at("2026-11-23T02:00:00+08:00"), end: at("2026-11-23T02:20:00+08:00"), mark: .succeeded)]),
            NightTimeline.Job(name: "charges", batch: "daily", priority: .p3, bars: [
                NightTimeline.Bar(start: at("2026-11-23T02:20:00+08:00"), end: at("2026-11-23T02:40:00+08:00"), mark: .retried),
                NightTimeline.Bar(start: at("2026-11-23T02:45:00+08:00"), end: at("2026-11-23T03:10:00+08:00"), mark: .ran),
                NightTimeline.Bar(start: at("2026-11-23T03:10:00+08:00"), end: at("2026-11-23T03:30:00+08:00"), mark: .paused),
                NightTimeline.Bar(start: at("2026-11-23T03:30:00+08:00"), end: at("2026-11-23T03:31:00+08:00"), mark: .failed)]),
        ]
        let chart = NightTimeline.layout(start: at("2026-11-23T02:00:00+08:00"), end: at("2026-11-23T08:30:00+08:00"), jobs: jobs,
                                         windows: windows, deadlines: [("daily", at("2026-11-23T06:00:00+08:00"))])
        // 6.5 hours fit 72 columns at 10 minutes (39 of them; 5 minutes would need 78).
        XCTAssertEqual(chart.slotSeconds, 600)
        XCTAssertEqual(chart.columns, 39)
        XCTAssertEqual(chart.start, at("2026-11-23T02:00:00+08:00"))
        XCTAssertEqual(chart.ticks.map(\.label), ["02:00", "03:00", "04:00", "05:00", "06:00", "07:00", "08:00"])
        XCTAssertEqual(chart.ticks.map(\.span), [6, 6, 6, 6, 6, 6, 3])
        XCTAssertEqual(chart.band.map(\.rule), [.optimal, .open, .avoid])
        XCTAssertEqual(chart.band.map(\.span), [24, 12, 3])
        XCTAssertEqual(chart.band.map(\.window), ["weekday_night", nil, "business_hours"])
        XCTAssertEqual(chart.rows[0].segments, [.init(span: 2, mark: .succeeded), .init(span: 37, mark: .idle)])
        // 02:20-02:40 retried, 02:45-03:10 ran (from the 02:40 slot), 03:10-03:30 paused, 03:30-03:31 failed.
        XCTAssertEqual(chart.rows[1].segments, [.init(span: 2, mark: .idle), .init(span: 2, mark: .retried), .init(span: 3, mark: .ran),
                                                .init(span: 2, mark: .paused), .init(span: 1, mark: .failed), .init(span: 29, mark: .idle)])
        XCTAssertEqual(chart.deadlines, [.init(batch: "daily", column: 24, at: at("2026-11-23T06:00:00+08:00"))])
        XCTAssertEqual(chart.rows.map { $0.segments.map(\.span).reduce(0, +) }, [39, 39], "every row fills the columns")

        let text = chart.plainText()
        XCTAssertEqual(text[0].trimmingCharacters(in: .whitespaces).prefix(5), "02:00")
        XCTAssertTrue(text[1].hasSuffix(String(repeating: "=", count: 24) + String(repeating: ".", count: 12) + "aaa"), text[1])
        XCTAssertTrue(text[2].hasSuffix("##" + String(repeating: " ", count: 22) + "|" + String(repeating: " ", count: 14)), text[2])
        XCTAssertTrue(text[3].contains("  rr###~~x   "), text[3])
    }

    func testLunchShowsAsNeverAndALongSpanUsesLongerSlots() {
        let job = NightTimeline.Job(name: "yearly", batch: "yearend", priority: .p1, bars: [
            NightTimeline.Bar(start: at("2026-11-23T10:00:00+08:00"), end: at("2026-11-23T12:00:00+08:00"), mark: .running)])
        let chart = NightTimeline.layout(start: at("2026-11-23T00:00:00+08:00"), end: at("2026-11-24T00:00:00+08:00"), jobs: [job],
                                         windows: windows, deadlines: [])
        XCTAssertEqual(chart.slotSeconds, 1800, "24 h in at most 72 columns")
        XCTAssertEqual(chart.columns, 48)
        // Lunch 11:30-13:30 is never, within business hours (avoid) 08:00-18:00.
        let rules = chart.band.flatMap { Array(repeating: $0.rule, count: $0.span) }
        XCTAssertEqual(rules[22], .avoid) // 11:00
        XCTAssertEqual(rules[23], .never) // 11:30
        XCTAssertEqual(rules[26], .never) // 13:00
        XCTAssertEqual(rules[27], .avoid) // 13:30
        XCTAssertEqual(rules[4], .optimal) // 02:00
        XCTAssertEqual(chart.rows[0].segments, [.init(span: 20, mark: .idle), .init(span: 4, mark: .running), .init(span: 24, mark: .idle)])
    }

    func testASlotShowsTheMostRestrictiveRuleWithinIt() {
        // A ten-minute freeze inside a 30-minute slot still marks the whole slot never.
        let freeze = WindowSet(windows: windows.windows + [ProcessingWindow(name: "freeze", days: .all, start: 130, end: 140, rule: .never)],
                               calendar: testCalendar(), zone: windows.zone)
        let chart = NightTimeline.layout(start: at("2026-11-23T00:00:00+08:00"), end: at("2026-11-24T00:00:00+08:00"),
                                         jobs: [], windows: freeze, deadlines: [])
        XCTAssertEqual(chart.slotSeconds, 1800)
        let rules = chart.band.flatMap { Array(repeating: ($0.rule, $0.window), count: $0.span) }
        XCTAssertEqual(rules[3].0, .open)     // 01:30-02:00
        XCTAssertEqual(rules[4].0, .never)    // 02:00-02:30 holds 02:10-02:20
        XCTAssertEqual(rules[4].1, "freeze")
        XCTAssertEqual(rules[5].0, .optimal)  // 02:30-03:00
    }
}

/// A job's recorded changes become bars, retries and pauses.
final class JobHistoryTests: XCTestCase {
    func testAttemptsPausesAndRetriesBecomeBars() {
        let t = { (minute: Int) in at("2026-11-23T02:00:00+08:00").addingTimeInterval(Double(minute * 60)) }
        let history = JobHistory([
            .init(to: "pending", reason: "planned", at: t(0)),
            .init(to: "running", reason: "claimed", at: t(1)),
            .init(to: "retrying", reason: "connection lost", at: t(5)),
            .init(to: "running", reason: "claimed", at: t(6)),
            .init(to: "paused", reason: "preempted by vat_declaration_export (P1)", at: t(10)),
            .init(to: "running", reason: "resumed", at: t(20)),
            .init(to: "pending", reason: "lease expired", at: t(25)),
            .init(to: "running", reason: "claimed", at: t(27)),
        ])
        XCTAssertEqual(history.retries, 2)
        XCTAssertEqual(history.pauses, ["preempted by vat_declaration_export (P1)"])
        XCTAssertEqual(history.bars(until: t(30)).map(\.mark), [.retried, .ran, .paused, .retried, .running])
        XCTAssertEqual(history.bars(until: t(30)).map(\.start), [t(1), t(6), t(10), t(20), t(27)])
        XCTAssertEqual(history.bars(until: t(30)).map(\.end), [t(5), t(10), t(20), t(25), t(30)])
        let done = JobHistory(history.changes + [.init(to: "succeeded_with_rejects", reason: "3 rejected", at: t(31))])
        XCTAssertEqual(done.bars(until: t(40)).last, NightTimeline.Bar(start: t(27), end: t(31), mark: .succeeded))
        let failed = JobHistory([.init(to: "running", reason: nil, at: t(0)), .init(to: "failed", reason: "42703", at: t(2))])
        XCTAssertEqual(failed.bars(until: t(9)), [NightTimeline.Bar(start: t(0), end: t(2), mark: .failed)])
        XCTAssertEqual(JobHistory([.init(to: "skipped", reason: "dependency failed", at: t(3))]).bars(until: t(9)), [])
    }
}

/// The earliest likely end of a batch's remaining work, for the window-miss alert.
final class FinishForecastTests: XCTestCase {
    func testRemainingWorkIsLaidOutOnTheSlotsByDependency() {
        let now = at("2026-11-23T05:00:00+08:00")
        let work = [
            FinishForecast.Work(name: "charges", dependsOn: [], seconds: 600, running: true),
            FinishForecast.Work(name: "export", dependsOn: ["charges"], seconds: 1200, running: false),
            FinishForecast.Work(name: "trend", dependsOn: ["sales"], seconds: 900, running: false), // sales already ended
            FinishForecast.Work(name: "register", dependsOn: ["export"], seconds: 300, running: false),
        ]
        // Two slots: trend runs beside charges; export after charges (10 min), register after it: 10 + 20 + 5.
        XCTAssertEqual(FinishForecast.finish(of: work, now: now, slots: 2), now.addingTimeInterval(2100))
        // One slot: charges 10, then in queue order export 20, trend 15, register 5.
        XCTAssertEqual(FinishForecast.finish(of: work, now: now, slots: 1), now.addingTimeInterval(3000))
        XCTAssertEqual(FinishForecast.finish(of: [], now: now, slots: 2), now)
        // Three running jobs on a runner with two slots (another runner's): all three hold a slot.
        let three = (1...3).map { FinishForecast.Work(name: "j\($0)", dependsOn: [], seconds: Double($0 * 60), running: true) }
        XCTAssertEqual(FinishForecast.finish(of: three, now: now, slots: 2), now.addingTimeInterval(180))
    }
}
