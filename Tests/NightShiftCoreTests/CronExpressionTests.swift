import Foundation
import NightShiftCore
import XCTest

final class CronExpressionTests: XCTestCase {
    func fires(_ expression: String, zone: String, from: String, count: Int) throws -> [String] {
        let tz = TimeZone(identifier: zone)!
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = tz
        let start = try XCTUnwrap(ISO8601DateFormatter().date(from: from))
        return try CronExpression(expression).next(count, after: start, in: tz).map { formatter.string(from: $0) }
    }

    func testDailyInTaipei() throws {
        XCTAssertEqual(try fires("0 2 * * *", zone: "Asia/Taipei", from: "2026-11-22T12:00:00+08:00", count: 2),
                       ["2026-11-23T02:00:00+08:00", "2026-11-24T02:00:00+08:00"])
        // Strictly after: an instant that is itself a fire time moves on.
        XCTAssertEqual(try fires("0 2 * * *", zone: "Asia/Taipei", from: "2026-11-23T02:00:00+08:00", count: 1),
                       ["2026-11-24T02:00:00+08:00"])
    }

    func testDayOfMonthOrDayOfWeekWhenBothAreRestricted() throws {
        // The 13th, or any Friday (Vixie cron).
        XCTAssertEqual(try fires("0 0 13 * FRI", zone: "Asia/Taipei", from: "2026-11-01T00:00:00+08:00", count: 8), [
            "2026-11-06T00:00:00+08:00", "2026-11-13T00:00:00+08:00", "2026-11-20T00:00:00+08:00", "2026-11-27T00:00:00+08:00",
            "2026-12-04T00:00:00+08:00", "2026-12-11T00:00:00+08:00", "2026-12-13T00:00:00+08:00", "2026-12-18T00:00:00+08:00",
        ])
        // A day-of-month starting with `*` is not "restricted": only Fridays that are the 1st, 11th, 21st or 31st fire.
        XCTAssertEqual(try fires("0 0 */10 * FRI", zone: "Asia/Taipei", from: "2026-11-01T00:00:00+08:00", count: 2),
                       ["2026-12-11T00:00:00+08:00", "2027-01-01T00:00:00+08:00"])
        // Without the star the rule is "either": the 1st/11th/21st/31st or any Friday.
        XCTAssertEqual(try fires("0 0 1-31/10 * FRI", zone: "Asia/Taipei", from: "2026-11-01T00:00:00+08:00", count: 3),
                       ["2026-11-06T00:00:00+08:00", "2026-11-11T00:00:00+08:00", "2026-11-13T00:00:00+08:00"])
    }

    func testNamesMacrosAndSundayAsZeroOrSeven() throws {
        let sunday = try fires("0 0 * * 0", zone: "Asia/Taipei", from: "2026-11-22T12:00:00+08:00", count: 3)
        XCTAssertEqual(try fires("0 0 * * 7", zone: "Asia/Taipei", from: "2026-11-22T12:00:00+08:00", count: 3), sunday)
        XCTAssertEqual(try fires("@weekly", zone: "Asia/Taipei", from: "2026-11-22T12:00:00+08:00", count: 3), sunday)
        XCTAssertEqual(sunday.first, "2026-11-29T00:00:00+08:00")
        XCTAssertEqual(try fires("0 22 31 DEC *", zone: "Asia/Taipei", from: "2026-11-22T00:00:00+08:00", count: 1), ["2026-12-31T22:00:00+08:00"])
        XCTAssertEqual(try fires("@monthly", zone: "Asia/Taipei", from: "2026-11-22T00:00:00+08:00", count: 1), ["2026-12-01T00:00:00+08:00"])
        XCTAssertEqual(try fires("@yearly", zone: "Asia/Taipei", from: "2026-11-22T00:00:00+08:00", count: 1), ["2027-01-01T00:00:00+08:00"])
        XCTAssertEqual(try fires("@annually", zone: "Asia/Taipei", from: "2026-11-22T00:00:00+08:00", count: 1), ["2027-01-01T00:00:00+08:00"])
        XCTAssertEqual(try fires("@midnight", zone: "Asia/Taipei", from: "2026-11-22T00:00:00+08:00", count: 1), ["2026-11-23T00:00:00+08:00"])
        XCTAssertEqual(try fires("@hourly", zone: "Asia/Taipei", from: "2026-11-22T00:10:00+08:00", count: 1), ["2026-11-22T01:00:00+08:00"])
        XCTAssertEqual(try fires("*/20 9-10 * jan-mar mon-fri", zone: "Asia/Taipei", from: "2027-01-01T09:50:00+08:00", count: 4),
                       ["2027-01-01T10:00:00+08:00", "2027-01-01T10:20:00+08:00", "2027-01-01T10:40:00+08:00", "2027-01-04T09:00:00+08:00"])
        XCTAssertEqual(try fires("0 0 29 2 *", zone: "Asia/Taipei", from: "2026-03-01T00:00:00+08:00", count: 1), ["2028-02-29T00:00:00+08:00"])
        XCTAssertEqual(try fires("5/20 0 1 1 *", zone: "Asia/Taipei", from: "2026-12-31T00:00:00+08:00", count: 3),
                       ["2027-01-01T00:05:00+08:00", "2027-01-01T00:25:00+08:00", "2027-01-01T00:45:00+08:00"])
    }

    func testNewYorkSpringForwardGapFiresOnceAtTheFirstValidInstant() throws {
        // 2027-03-14: 02:00 EST jumps to 03:00 EDT.
        XCTAssertEqual(try fires("30 2 * * *", zone: "America/New_York", from: "2027-03-13T00:00:00-05:00", count: 3),
                       ["2027-03-13T02:30:00-05:00", "2027-03-14T03:00:00-04:00", "2027-03-15T02:30:00-04:00"])
        XCTAssertEqual(try fires("0 * * * *", zone: "America/New_York", from: "2027-03-14T00:30:00-05:00", count: 3),
                       ["2027-03-14T01:00:00-05:00", "2027-03-14T03:00:00-04:00", "2027-03-14T04:00:00-04:00"])
    }

    func testNewYorkFallBackOverlapFiresOnce() throws {
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:00–01:59 happens twice.
        XCTAssertEqual(try fires("30 1 * * *", zone: "America/New_York", from: "2026-10-31T00:00:00-04:00", count: 3),
                       ["2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"])
        XCTAssertEqual(try fires("*/30 * * * *", zone: "America/New_York", from: "2026-11-01T00:45:00-04:00", count: 3),
                       ["2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T02:00:00-05:00"])
    }

    func testLondonBothTransitions() throws {
        // 2027-03-28: 01:00 GMT jumps to 02:00 BST. 2026-10-25: 02:00 BST falls back to 01:00 GMT.
        XCTAssertEqual(try fires("30 1 * * *", zone: "Europe/London", from: "2027-03-27T00:00:00Z", count: 3),
                       ["2027-03-27T01:30:00Z", "2027-03-28T02:00:00+01:00", "2027-03-29T01:30:00+01:00"])
        XCTAssertEqual(try fires("30 1 * * *", zone: "Europe/London", from: "2026-10-24T12:00:00+01:00", count: 2),
                       ["2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00Z"])
    }

    func testInvalidExpressionsPointAtTheField() {
        func problem(_ text: String) -> CronExpression.ParseError? {
            do { _ = try CronExpression(text); return nil } catch { return error }
        }
        XCTAssertEqual(problem("61 * * * *")?.field, "minute")
        XCTAssertEqual(problem("61 * * * *")?.description, "cron expression \"61 * * * *\": minute field `61`: out of range 0-59")
        XCTAssertEqual(problem("0 24 * * *")?.field, "hour")
        XCTAssertEqual(problem("0 0 0 * *")?.field, "day-of-month")
        XCTAssertEqual(problem("0 0 * JANX *")?.description,
                       "cron expression \"0 0 * JANX *\": month field `JANX`: not a number or a name (JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC)")
        XCTAssertEqual(problem("0 0 * * 8")?.field, "day-of-week")
        XCTAssertEqual(problem("5-1 * * * *")?.problem, "range runs backwards; write the smaller value first")
        XCTAssertEqual(problem("*/0 * * * *")?.problem, "step must be a positive number")
        XCTAssertEqual(problem("* * * *")?.problem, "has 4 fields; write 5: minute hour day-of-month month day-of-week")
        XCTAssertEqual(problem("@every")?.field, "expression")
        XCTAssertEqual(problem("0 0 31 2 *")?.problem, "no selected month has such a day, so it would never fire")
        XCTAssertEqual(problem("1,,2 * * * *")?.problem, "empty list item")
        XCTAssertNil(problem("0 0 30 2 MON"), "either-day rule: Mondays still fire")
    }
}
