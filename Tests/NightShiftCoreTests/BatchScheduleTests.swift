import Foundation
import NightShiftCore
import XCTest

/// What the scheduler fires: `BatchSchedule.due(cursor:now:)` — holiday policy, then misfire policy.
final class BatchScheduleTests: XCTestCase {
    let zone = TimeZone(identifier: "Asia/Taipei")!
    let calendar = testCalendar()

    func daily(misfire: MisfirePolicy = .runOnce, holiday: HolidayPolicy = .run, graceMinutes: Int = 60) -> BatchSchedule {
        BatchSchedule(batch: .daily, cron: try! CronExpression("0 2 * * *"), windowSeconds: 4 * 3600, priority: .p3, retries: 3,
                      holidayPolicy: holiday, misfire: misfire, graceSeconds: graceMinutes * 60)
    }

    func instants(_ due: (run: [BatchOccurrence], dropped: Int, reason: String)) -> [Date] { due.run.map(\.instant) }

    func testFiresOnceWhenTheClockPassesTheFireTime() {
        let schedule = daily()
        XCTAssertEqual(instants(schedule.due(cursor: at("2026-11-23T01:59:00+08:00"), now: at("2026-11-23T01:59:59+08:00"), calendar: calendar, zone: zone)), [])
        XCTAssertEqual(instants(schedule.due(cursor: at("2026-11-23T01:59:00+08:00"), now: at("2026-11-23T02:00:00+08:00"), calendar: calendar, zone: zone)),
                       [at("2026-11-23T02:00:00+08:00")])
        // The next pass starts after the cursor: nothing again.
        XCTAssertEqual(instants(schedule.due(cursor: at("2026-11-23T02:00:00+08:00"), now: at("2026-11-23T02:10:00+08:00"), calendar: calendar, zone: zone)), [])
    }

    func testFirstStartFiresOnlyWithinTheGracePeriod() {
        let schedule = daily()
        XCTAssertEqual(instants(schedule.due(cursor: nil, now: at("2026-11-23T02:30:00+08:00"), calendar: calendar, zone: zone)),
                       [at("2026-11-23T02:00:00+08:00")])
        XCTAssertEqual(instants(schedule.due(cursor: nil, now: at("2026-11-23T03:30:00+08:00"), calendar: calendar, zone: zone)), [])
    }

    func testDowntimeIsJudgedByTheMisfirePolicy() {
        let cursor = at("2026-11-20T01:00:00+08:00"), now = at("2026-11-23T05:00:00+08:00")
        let once = daily(misfire: .runOnce).due(cursor: cursor, now: now, calendar: calendar, zone: zone)
        XCTAssertEqual(instants(once), [at("2026-11-23T02:00:00+08:00")])
        XCTAssertEqual(once.dropped, 3)
        let all = daily(misfire: .runAll(limit: 2)).due(cursor: cursor, now: now, calendar: calendar, zone: zone)
        XCTAssertEqual(instants(all), [at("2026-11-22T02:00:00+08:00"), at("2026-11-23T02:00:00+08:00")])
        XCTAssertEqual(all.dropped, 2)
        let skip = daily(misfire: .skip).due(cursor: cursor, now: now, calendar: calendar, zone: zone)
        XCTAssertEqual(instants(skip), [])
        XCTAssertEqual(skip.dropped, 4)
        // Within the grace period it is not a misfire: it runs whatever the policy.
        let onTime = daily(misfire: .skip).due(cursor: cursor, now: at("2026-11-23T02:30:00+08:00"), calendar: calendar, zone: zone)
        XCTAssertEqual(instants(onTime), [at("2026-11-23T02:00:00+08:00")])
    }

    func testHolidayPolicies() {
        // 2026-12-25 (a Friday) is a holiday in the test calendar.
        let cursor = at("2026-12-24T03:00:00+08:00")
        let skip = daily(holiday: .skip).due(cursor: cursor, now: at("2026-12-25T03:00:00+08:00"), calendar: calendar, zone: zone)
        XCTAssertEqual(instants(skip), [])
        let run = daily(holiday: .run).due(cursor: cursor, now: at("2026-12-25T03:00:00+08:00"), calendar: calendar, zone: zone)
        XCTAssertEqual(instants(run), [at("2026-12-25T02:00:00+08:00")])
        XCTAssertTrue(run.run[0].note.contains("holiday policy run"), run.run[0].note)
        // next_workday: not due on the holiday; it lands on Monday 12-28 02:00 (together with that day's own run).
        let next = daily(holiday: .nextWorkday)
        XCTAssertEqual(instants(next.due(cursor: cursor, now: at("2026-12-25T03:00:00+08:00"), calendar: calendar, zone: zone)), [])
        let monday = next.due(cursor: at("2026-12-27T03:00:00+08:00"), now: at("2026-12-28T02:30:00+08:00"), calendar: calendar, zone: zone)
        XCTAssertEqual(instants(monday), [at("2026-12-28T02:00:00+08:00")])
    }

    func testSpringForwardAndFallBackFireOnceInZonesWithDST() {
        let ny = TimeZone(identifier: "America/New_York")!
        let schedule = BatchSchedule(batch: .daily, cron: try! CronExpression("30 2 * * *"), windowSeconds: 3600, priority: .p3, retries: 3,
                                     holidayPolicy: .run, misfire: .runAll(limit: 10), graceSeconds: 3600)
        let empty = HolidayCalendar(years: [])
        // 2027-03-14 02:30 does not exist in New York: it fires once, at the jump (03:00 EDT).
        let spring = schedule.due(cursor: at("2027-03-14T00:00:00-05:00"), now: at("2027-03-14T04:00:00-04:00"), calendar: empty, zone: ny)
        XCTAssertEqual(instants(spring), [at("2027-03-14T03:00:00-04:00")])
        // 2027-11-07 01:30 happens twice; 02:30 once: one occurrence.
        let fall = schedule.due(cursor: at("2027-11-07T00:00:00-04:00"), now: at("2027-11-07T04:00:00-05:00"), calendar: empty, zone: ny)
        XCTAssertEqual(fall.run.count, 1)
    }
}
