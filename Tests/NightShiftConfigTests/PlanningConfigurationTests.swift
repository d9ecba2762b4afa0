import Foundation
import NightShiftConfig
import NightShiftCore
import TestSupport
import XCTest

final class PlanningConfigurationTests: XCTestCase {
    var project: ProjectCopy!

    override func setUpWithError() throws { project = try ProjectCopy() }
    override func tearDown() { project?.cleanup() }

    func date(_ text: String) -> LocalDate { LocalDate(iso: text)! }

    func testShippedTaiwanCalendar() throws {
        let calendar = try Configuration.load(root: project.root).windows.calendar
        // Lunar New Year 2026: eve on Monday 16 Feb, then 17–19, and 20 Feb observed.
        for day in ["2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20"] {
            XCTAssertTrue(calendar.kind(of: date(day)).isHoliday, day)
        }
        XCTAssertEqual(calendar.kind(of: date("2026-02-23")), .workday)
        // 228 Peace Memorial Day falls on a Saturday in 2026; Friday 27 Feb is the observed day.
        XCTAssertEqual(calendar.kind(of: date("2026-02-28")), .holiday("和平紀念日 Peace Memorial Day"))
        XCTAssertTrue(calendar.kind(of: date("2026-02-27")).isHoliday)
        XCTAssertFalse(calendar.kind(of: date("2026-02-27")).isWorkday)
        // 2026 has no make-up workdays: every Saturday is a weekend day.
        XCTAssertEqual(calendar.years[2026]?.makeupWorkdays.count, 0)
        XCTAssertEqual(calendar.kind(of: date("2026-11-14")), .weekend)
        XCTAssertTrue(calendar.years[2027]!.provisional)
        XCTAssertFalse(calendar.years[2026]!.provisional)
        // Past the end of the calendars.
        XCTAssertEqual(calendar.kind(of: date("2028-01-03")), .uncovered(weekend: false))
        XCTAssertEqual(calendar.coveredThrough?.description, "2027-12-31")
    }

    /// Day by day against the DGPA's 2026 office calendar (and the 2027 one derived by the same
    /// rules): every weekday off, and every statutory holiday on a weekend marked as a holiday.
    func testShippedCalendarsDayByDay() throws {
        let calendar = try Configuration.load(root: project.root).windows.calendar
        let weekdaysOff: [Int: Set<String>] = [
            2026: ["01-01", "02-16", "02-17", "02-18", "02-19", "02-20", "02-27", "04-03", "04-06", "05-01", "06-19",
                   "09-25", "09-28", "10-09", "10-26", "12-25"],
            2027: ["01-01", "02-04", "02-05", "02-08", "02-09", "02-10", "03-01", "04-05", "04-06", "04-30", "06-09",
                   "09-15", "09-28", "10-11", "10-25", "12-24", "12-31"],
        ]
        let weekendHolidays: [Int: Set<String>] = [
            2026: ["02-15", "02-28", "04-04", "04-05", "10-10", "10-25"],
            2027: ["02-06", "02-07", "02-28", "04-04", "05-01", "10-10", "12-25"],
        ]
        for year in [2026, 2027] {
            var day = LocalDate(year: year, month: 1, day: 1)
            while day.year == year {
                let monthDay = String(day.description.dropFirst(5))
                let weekend = day.weekday == 0 || day.weekday == 6
                let kind = calendar.kind(of: day)
                if weekend {
                    XCTAssertFalse(kind.isWorkday, "\(day)")
                    XCTAssertEqual(kind.isHoliday, weekendHolidays[year]!.contains(monthDay), "\(day) \(kind)")
                } else {
                    XCTAssertEqual(!kind.isWorkday, weekdaysOff[year]!.contains(monthDay), "\(day) \(kind)")
                }
                day = day.adding(days: 1)
            }
        }
    }

    func testAMakeupSaturdayIsAWorkdayForTheWindows() throws {
        try project.write("etc/calendars/tw-2027.yaml", """
            year: 2027
            provisional: false
            source: test
            holidays:
              2027-01-01: 開國紀念日
            makeup_workdays:
              2027-01-09: 補行上班
            """)
        let configuration = try Configuration.load(root: project.root)
        XCTAssertEqual(configuration.windows.calendar.kind(of: date("2027-01-09")), .makeupWorkday("補行上班"))
        let saturday10 = ISO8601DateFormatter().date(from: "2027-01-09T10:00:00+08:00")!
        XCTAssertEqual(configuration.windows.decide(.p3, at: saturday10).windowName, "business_hours")
        XCTAssertFalse(configuration.warnings.contains { $0.contains("2027 calendar is provisional") })
    }

    func testCheckWarnsAheadOfTheCalendarEnd() throws {
        let configuration = try Configuration.load(root: project.root)
        let december = ISO8601DateFormatter().date(from: "2027-12-01T00:00:00+08:00")!
        XCTAssertEqual(configuration.calendarCoverageWarnings(from: december, days: 60),
                       ["etc/calendars: holiday calendars end on 2027-12-31; 2028-01-01 is 31 days away. Add etc/calendars/tw-2028.yaml before then"])
        XCTAssertEqual(configuration.calendarCoverageWarnings(from: ISO8601DateFormatter().date(from: "2026-11-22T00:00:00+08:00")!, days: 90), [])
        XCTAssertTrue(configuration.warnings.contains { $0.hasPrefix("etc/calendars: the 2027 calendar is provisional") })
    }

    func testShippedWindowsAndSchedules() throws {
        let configuration = try Configuration.load(root: project.root)
        XCTAssertEqual(configuration.windows.windows.map(\.name),
                       ["lunch_peak", "business_hours", "month_end", "weekday_night", "weekend_night", "holiday"])
        XCTAssertEqual(configuration.windows.allowed, WindowSet.defaultAllowed)
        XCTAssertEqual(configuration.priorityPolicy, PriorityPolicy())
        let daily = configuration.schedule(.daily)
        XCTAssertEqual(daily.cron.description, "0 2 * * *")
        XCTAssertEqual(daily.windowSeconds, 4 * 3600)
        XCTAssertEqual(daily.misfire, .runOnce)
        XCTAssertEqual(configuration.schedule(.weekly).cron.description, "0 1 * * SUN")
        XCTAssertEqual(configuration.schedule(.yearend).priority, .p1)
        XCTAssertEqual(configuration.jobs.first { $0.name == "customer_consumption" }?.priority, .p4)
    }

    func testWindowAndCalendarErrorsSayWhereAndHow() throws {
        var windows = try project.read("etc/windows.yaml")
        windows = windows.replacingOccurrences(of: "time: \"08:00-18:00\"", with: "time: \"18:00-08:00\"")
        windows = windows.replacingOccurrences(of: "rule: never", with: "rule: forbidden")
        try project.write("etc/windows.yaml", windows)
        try project.write("etc/calendars/tw-2027.yaml", "year: 2027\nholidays:\n  2028-01-01: wrong year\n  2027-02-30: no such day\n")
        var settings = try project.read("etc/nightshift.yaml")
        settings = settings.replacingOccurrences(of: "cron: \"0 2 * * *\"", with: "cron: \"0 25 * * *\"")
        try project.write("etc/nightshift.yaml", settings)
        let found = Configuration.check(root: project.root).errors.map(\.description)
        XCTAssertTrue(found.contains { $0.hasPrefix("etc/windows.yaml:") && $0.contains("windows[0].rule: `forbidden` is not never, avoid, restricted, open or optimal") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("windows[1].time: `18:00-08:00` is not a time range HH:MM-HH:MM with start before end") }, "\(found)")
        XCTAssertTrue(found.contains { $0.hasPrefix("etc/calendars/tw-2027.yaml:3: holidays.2028-01-01: 2028-01-01 is not in 2027. Fix: move it to etc/calendars/tw-2028.yaml") }, "\(found)")
        XCTAssertTrue(found.contains { $0.hasPrefix("etc/calendars/tw-2027.yaml:4: holidays.2027-02-30: `2027-02-30` is not a date") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("batches.daily.cron: cron expression \"0 25 * * *\": hour field `25`: out of range 0-23") }, "\(found)")
        XCTAssertEqual(found.filter { $0.contains("batches.daily.cron") }.count, 1, "\(found)")
    }
}
