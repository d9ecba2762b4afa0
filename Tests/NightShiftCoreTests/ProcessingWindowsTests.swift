import Foundation
@testable import NightShiftCore
import TestSupport
import XCTest

/// The default windows of etc/windows.yaml, built in code (the config tests check the file matches).
func defaultWindows(calendar: HolidayCalendar) -> WindowSet {
    WindowSet(windows: [
        ProcessingWindow(name: "lunch_peak", days: .workdays, start: 690, end: 810, rule: .never),
        ProcessingWindow(name: "business_hours", days: .workdays, start: 480, end: 1080, rule: .avoid),
        ProcessingWindow(name: "month_end", days: .all, monthDays: (25, 5), start: 0, end: 1440, rule: .restricted),
        ProcessingWindow(name: "weekday_night", days: .workdays, start: 120, end: 360, rule: .optimal),
        ProcessingWindow(name: "weekend_night", days: .weekends, start: 0, end: 480, rule: .optimal),
        ProcessingWindow(name: "holiday", days: .holidays, start: 0, end: 1440, rule: .optimal),
    ], calendar: calendar, zone: TimeZone(identifier: "Asia/Taipei")!)
}

/// A small calendar: a few real 2026 holidays and one made-up make-up Saturday (2026 has none).
func testCalendar() -> HolidayCalendar {
    func d(_ s: String) -> LocalDate { LocalDate(iso: s)! }
    return HolidayCalendar(years: [HolidayCalendar.Year(
        year: 2026,
        holidays: [d("2026-02-16"): "除夕", d("2026-02-17"): "春節", d("2026-02-27"): "和平紀念日補假", d("2026-10-09"): "國慶日補假",
                   d("2026-12-25"): "行憲紀念日"],
        makeupWorkdays: [d("2026-11-14"): "補行上班 (test)"], provisional: false, source: "test")])
}

func at(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

final class ProcessingWindowsTests: XCTestCase {
    let windows = defaultWindows(calendar: testCalendar())

    func until(_ decision: WindowDecision) -> String? {
        guard case let .deferred(until) = decision.verdict else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "Asia/Taipei")!
        return formatter.string(from: until)
    }

    func testLunchPeakStopsEvenCriticalJobs() {
        let decision = windows.decide(.p1, at: at("2026-11-17T12:00:00+08:00"))
        XCTAssertEqual(until(decision), "2026-11-17T13:30:00+08:00")
        XCTAssertEqual(decision.windowName, "lunch_peak")
        XCTAssertEqual(decision.reason, "deferred until 2026-11-17T13:30:00+08:00 (business_hours, avoid): lunch_peak (11:30–13:30 on workdays) is never, which lets nothing start")
    }

    func testBusinessHoursLetHighPriorityStartAndDeferTheRest() {
        let tuesday9 = at("2026-11-17T09:00:00+08:00")
        XCTAssertEqual(windows.decide(.p1, at: tuesday9).verdict, .allowed)
        XCTAssertEqual(windows.decide(.p2, at: tuesday9).verdict, .allowed)
        XCTAssertEqual(until(windows.decide(.p3, at: tuesday9)), "2026-11-17T18:00:00+08:00")
        XCTAssertEqual(until(windows.decide(.p4, at: tuesday9)), "2026-11-18T02:00:00+08:00")
        XCTAssertTrue(windows.decide(.p4, at: tuesday9).reason.hasSuffix("business_hours (08:00–18:00 on workdays) is avoid, which lets only P1, P2 start"))
    }

    func testMonthEndRestrictionBeatsTheWeekendNight() {
        // Saturday 28 Nov 03:00 is both weekend night (optimal) and month end (restricted).
        let decision = windows.decide(.p4, at: at("2026-11-28T03:00:00+08:00"))
        XCTAssertEqual(decision.rule, .restricted)
        XCTAssertEqual(until(decision), "2026-12-06T00:00:00+08:00", "first optimal instant after the 5th: Sunday night")
        XCTAssertEqual(windows.decide(.p3, at: at("2026-11-28T03:00:00+08:00")).verdict, .allowed)
    }

    func testHolidaysAreOptimalAllDayAndMakeupSaturdaysAreWorkdays() {
        let holiday = windows.decide(.p4, at: at("2026-10-09T10:00:00+08:00"))
        XCTAssertEqual(holiday.verdict, .allowed)
        XCTAssertEqual(holiday.windowName, "holiday")
        let makeup = windows.decide(.p3, at: at("2026-11-14T10:00:00+08:00"))
        XCTAssertEqual(makeup.windowName, "business_hours")
        XCTAssertEqual(until(makeup), "2026-11-14T18:00:00+08:00")
        XCTAssertEqual(windows.decide(.p4, at: at("2026-11-14T03:00:00+08:00")).windowName, "weekday_night")
        XCTAssertEqual(windows.decide(.p4, at: at("2026-11-21T03:00:00+08:00")).windowName, "weekend_night")
    }

    func testNoAllowedInstantWithinTheHorizonIsNotAllowed() {
        let closed = WindowSet(windows: [ProcessingWindow(name: "freeze", days: .all, start: 0, end: 1440, rule: .never)],
                               calendar: testCalendar(), zone: TimeZone(identifier: "Asia/Taipei")!, horizonDays: 3)
        let decision = closed.decide(.p1, at: at("2026-11-17T09:00:00+08:00"))
        XCTAssertEqual(decision.verdict, .notAllowed)
        XCTAssertTrue(decision.reason.contains("no window in the next 3 days lets P1 start"))
    }

    func testUncoveredDatesWarnLoudly() {
        let decision = windows.decide(.p3, at: at("2028-01-11T03:00:00+08:00"))
        XCTAssertEqual(decision.windowName, "weekday_night")
        XCTAssertTrue(decision.reason.contains("WARNING: no holiday calendar covers 2028-01-11"), decision.reason)
    }

    /// A plain reference: evaluate every window by hand and pick the most restrictive rule.
    func referenceRule(_ local: LocalDateTime, calendar: HolidayCalendar) -> WindowRule {
        let date = local.date, minute = local.minute
        let satSun = date.weekday == 0 || date.weekday == 6
        let yearData = calendar.years[date.year]
        let makeup = yearData?.makeupWorkdays[date] != nil
        let holiday = !makeup && yearData?.holidays[date] != nil
        let workday = makeup || (!holiday && !satSun)
        var rules: [WindowRule] = []
        if workday && minute >= 690 && minute < 810 { rules.append(.never) }
        if workday && minute >= 480 && minute < 1080 { rules.append(.avoid) }
        if date.day >= 25 || date.day <= 5 { rules.append(.restricted) }
        if workday && minute >= 120 && minute < 360 { rules.append(.optimal) }
        if satSun && !workday && minute < 480 { rules.append(.optimal) }
        if holiday { rules.append(.optimal) }
        let order: [WindowRule] = [.never, .avoid, .restricted, .optimal]
        return order.first { rules.contains($0) } ?? .open
    }

    func referenceAllows(_ priority: Priority, _ rule: WindowRule) -> Bool {
        switch rule {
        case .never: false
        case .avoid: priority <= .p2
        case .restricted, .open: priority <= .p3
        case .optimal: true
        }
    }

    func testRandomInstantsAgreeWithTheReference() {
        var rng = SplitMix(seed: 2026)
        let start = at("2026-01-01T00:00:00+08:00").timeIntervalSince1970
        let zone = TimeZone(identifier: "Asia/Taipei")!
        for n in 0..<3000 {
            let instant = Date(timeIntervalSince1970: start + Double(rng.next() % (366 * 86_400)))
            let priority = Priority(rawValue: Int(rng.next() % 4) + 1)!
            let local = LocalDateTime(instant, in: zone)
            let expected = referenceRule(local, calendar: windows.calendar)
            let decision = windows.decide(priority, at: instant)
            XCTAssertEqual(decision.rule, expected, "\(local)")
            XCTAssertEqual(decision.verdict == .allowed, referenceAllows(priority, expected), "\(priority) at \(local)")
            // A deferral ends at the first allowed minute: allowed then, not allowed any minute before.
            if n % 10 == 0, case let .deferred(until) = decision.verdict {
                XCTAssertTrue(referenceAllows(priority, referenceRule(LocalDateTime(until, in: zone), calendar: windows.calendar)))
                var t = instant.addingTimeInterval(60 - instant.timeIntervalSince1970.truncatingRemainder(dividingBy: 60))
                while t < until {
                    XCTAssertFalse(referenceAllows(priority, referenceRule(LocalDateTime(t, in: zone), calendar: windows.calendar)),
                                   "\(priority) was allowed at \(LocalDateTime(t, in: zone)) before \(LocalDateTime(until, in: zone))")
                    t = t.addingTimeInterval(60)
                }
            }
        }
    }
}

/// The memo the planner keeps between decisions gives what a fresh decision gives, at instants met
/// in clock order as a plan meets them, in Taipei and in a zone with DST (boundaries inside and
/// next to the changes of clock).
final class WindowMemoTests: XCTestCase {
    func testMemoisedDecisionsEqualFreshOnesAlongARandomClock() throws {
        let taipei = defaultWindows(calendar: testCalendar())
        let newYork = WindowSet(windows: taipei.windows + [ProcessingWindow(name: "dst_edge", days: .all, start: 90, end: 150, rule: .avoid)],
                                calendar: testCalendar(), zone: try XCTUnwrap(TimeZone(identifier: "America/New_York")))
        for (windows, from) in [(taipei, at("2026-02-10T00:00:00+08:00")), (newYork, at("2026-03-06T00:00:00-05:00")),
                                (newYork, at("2026-10-30T00:00:00-04:00"))] {
            var rng = SplitMix(seed: 8)
            var memo = WindowMemo()
            var clock = from
            for _ in 0..<6_000 {
                // Mostly small steps (many decisions inside one stretch), sometimes hours.
                clock.addTimeInterval(Double(rng.next() % 10 == 0 ? rng.next() % 14_400 : rng.next() % 900))
                let priority = Priority(rawValue: Int(rng.next() % 4) + 1)!
                let fresh = windows.decide(priority, at: clock)
                let memoised = memo.decide(priority, at: clock, in: windows)
                XCTAssertEqual(memoised, fresh, "\(priority) at \(clock.iso8601(in: windows.zone))")
                XCTAssertEqual(memoised.verdict, fresh.verdict, "\(priority) at \(clock.iso8601(in: windows.zone))")
                let (rule, until) = memo.rule(at: clock, in: windows)
                XCTAssertEqual(rule, fresh.rule)
                XCTAssertGreaterThanOrEqual(until, clock)
                // The rule holds over the whole stretch the memo claims.
                if until > clock {
                    XCTAssertEqual(windows.decide(priority, at: until.addingTimeInterval(-1)).rule, rule,
                                   "stretch \(clock.iso8601(in: windows.zone))–\(until.iso8601(in: windows.zone))")
                }
            }
        }
    }
}

final class CalendarAndPolicyTests: XCTestCase {
    let calendar = testCalendar()

    func testHolidayPolicies() {
        let holiday = LocalDate(iso: "2026-02-17")!
        XCTAssertEqual(HolidayPolicy.run.apply(to: holiday, calendar: calendar), holiday)
        XCTAssertNil(HolidayPolicy.skip.apply(to: holiday, calendar: calendar))
        XCTAssertEqual(HolidayPolicy.nextWorkday.apply(to: holiday, calendar: calendar)?.description, "2026-02-18")
        XCTAssertEqual(HolidayPolicy.previousWorkday.apply(to: holiday, calendar: calendar)?.description, "2026-02-13",
                       "16 Feb is a holiday too, 14–15 a weekend")
        let ordinary = LocalDate(iso: "2026-11-17")!
        for policy in HolidayPolicy.allCases { XCTAssertEqual(policy.apply(to: ordinary, calendar: calendar), ordinary) }
    }

    func testNextRunAppliesTheHolidayPolicy() throws {
        let zone = TimeZone(identifier: "Asia/Taipei")!
        let base = BatchSchedule.defaults(.daily)
        let moved = BatchSchedule(batch: .daily, cron: base.cron, windowSeconds: base.windowSeconds, priority: base.priority, retries: 3,
                                  holidayPolicy: .nextWorkday, misfire: .runOnce, graceSeconds: 3600)
        let run = try XCTUnwrap(moved.nextRun(after: at("2026-12-24T12:00:00+08:00"), calendar: calendar, zone: zone))
        XCTAssertEqual(run.instant, at("2026-12-28T02:00:00+08:00"), "25 Dec is a holiday, 26–27 a weekend")
        XCTAssertTrue(run.note.contains("moves it to 2026-12-28"), run.note)
        let skipping = BatchSchedule(batch: .daily, cron: base.cron, windowSeconds: base.windowSeconds, priority: base.priority, retries: 3,
                                     holidayPolicy: .skip, misfire: .runOnce, graceSeconds: 3600)
        let next = try XCTUnwrap(skipping.nextRun(after: at("2026-02-15T12:00:00+08:00"), calendar: calendar, zone: zone))
        XCTAssertEqual(next.instant, at("2026-02-18T02:00:00+08:00"))
        XCTAssertTrue(next.note.hasPrefix("skipped holidays 2026-02-16, 2026-02-17"), next.note)
    }

    func testDefaultBatchSchedules() {
        let zone = TimeZone(identifier: "Asia/Taipei")!
        let from = at("2026-11-22T12:00:00+08:00")
        XCTAssertEqual(BatchSchedule.defaults(.daily).cron.next(after: from, in: zone), at("2026-11-23T02:00:00+08:00"))
        XCTAssertEqual(BatchSchedule.defaults(.weekly).cron.next(after: from, in: zone), at("2026-11-29T01:00:00+08:00"))
        XCTAssertEqual(BatchSchedule.defaults(.monthly).cron.next(after: from, in: zone), at("2026-12-01T00:00:00+08:00"))
        XCTAssertEqual(BatchSchedule.defaults(.yearend).cron.next(after: from, in: zone), at("2026-12-31T22:00:00+08:00"))
        XCTAssertEqual([BatchKind.daily, .weekly, .monthly, .yearend].map { BatchSchedule.defaults($0).windowSeconds / 3600 }, [4, 8, 12, 24])
        XCTAssertEqual([BatchKind.daily, .weekly, .monthly, .yearend].map { BatchSchedule.defaults($0).priority }, [.p3, .p4, .p2, .p1])
        XCTAssertEqual(BatchSchedule.defaults(.daily).retries, 3)
    }

    func testMisfirePolicies() throws {
        let zone = TimeZone(identifier: "Asia/Taipei")!
        let daily = try CronExpression("0 2 * * *")
        let last = at("2026-11-20T02:00:00+08:00"), now = at("2026-11-23T10:00:00+08:00")
        let skip = MisfirePolicy.skip.resolve(schedule: daily, zone: zone, lastFired: last, now: now, grace: 3600)
        XCTAssertEqual(skip.run, [])
        XCTAssertEqual(skip.dropped, 3)
        let once = MisfirePolicy.runOnce.resolve(schedule: daily, zone: zone, lastFired: last, now: now, grace: 3600)
        XCTAssertEqual(once.run, [at("2026-11-23T02:00:00+08:00")])
        XCTAssertEqual(once.dropped, 2)
        let all = MisfirePolicy.runAll(limit: 2).resolve(schedule: daily, zone: zone, lastFired: last, now: now, grace: 3600)
        XCTAssertEqual(all.run, [at("2026-11-22T02:00:00+08:00"), at("2026-11-23T02:00:00+08:00")])
        XCTAssertEqual(all.dropped, 1)
        // Late but within the grace period: not a misfire, runs under any policy.
        let onTime = MisfirePolicy.skip.resolve(schedule: daily, zone: zone, lastFired: last, now: at("2026-11-23T02:30:00+08:00"), grace: 3600)
        XCTAssertEqual(onTime.run, [at("2026-11-23T02:00:00+08:00")])
        XCTAssertEqual(onTime.dropped, 2)
        XCTAssertEqual(MisfirePolicy.runOnce.resolve(schedule: daily, zone: zone, lastFired: nil, now: now, grace: 3600).run, [])
    }

    func testAgingIsBoundedAndPreemptionPausesOnlyLowWork() {
        let policy = PriorityPolicy()
        let due = at("2026-11-23T02:00:00+08:00")
        XCTAssertEqual(policy.effectivePriority(.p4, due: due, now: due.addingTimeInterval(59 * 60)), .p4)
        XCTAssertEqual(policy.effectivePriority(.p4, due: due, now: due.addingTimeInterval(61 * 60)), .p3)
        XCTAssertEqual(policy.effectivePriority(.p4, due: due, now: due.addingTimeInterval(10 * 3600)), .p3, "at most one level")
        XCTAssertEqual(policy.effectivePriority(.p3, due: due, now: due.addingTimeInterval(10 * 3600)), .p2)
        XCTAssertEqual(policy.effectivePriority(.p2, due: due, now: due.addingTimeInterval(10 * 3600)), .p2, "nothing ages into P1")
        XCTAssertEqual(policy.latestStart(.p2, due: due), due.addingTimeInterval(3600))
        XCTAssertNil(policy.latestStart(.p3, due: due))

        let running = [PriorityPolicy.RunningJob(name: "a", priority: .p2, started: due),
                       PriorityPolicy.RunningJob(name: "b", priority: .p3, started: due.addingTimeInterval(60)),
                       PriorityPolicy.RunningJob(name: "c", priority: .p4, started: due.addingTimeInterval(30))]
        XCTAssertEqual(policy.jobsToPause(for: .p1, running: running, capacity: 3).map(\.name), ["c"])
        XCTAssertEqual(policy.jobsToPause(for: .p1, running: running, capacity: 2).map(\.name), ["c", "b"])
        XCTAssertEqual(policy.jobsToPause(for: .p2, running: running, capacity: 3), [], "only P1 preempts")
        XCTAssertEqual(policy.jobsToPause(for: .p1, running: running, capacity: 4), [], "a slot is free")
        XCTAssertEqual(policy.jobsToPause(for: .p1, running: [running[0]], capacity: 1), [], "P2 work is never paused")
    }
}
