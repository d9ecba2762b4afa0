import Foundation
import NightShiftCore
import XCTest

final class BatchKindTests: XCTestCase {
    let taipei = TimeZone(identifier: "Asia/Taipei")!

    func instant(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    func testDailyBatchAtTwoInTheMorningProcessesYesterday() {
        XCTAssertEqual(BatchKind.daily.businessDate(at: instant("2026-11-23T02:00:00+08:00"), in: taipei).description, "2026-11-22")
        // 18:30 UTC on the 22nd is already 02:30 on the 23rd in Taipei.
        XCTAssertEqual(BatchKind.daily.businessDate(at: instant("2026-11-22T18:30:00Z"), in: taipei).description, "2026-11-22")
        XCTAssertEqual(BatchKind.monthly.businessDate(at: instant("2026-12-01T00:00:00+08:00"), in: taipei).description, "2026-11-30")
        XCTAssertEqual(BatchKind.yearend.businessDate(at: instant("2026-12-31T22:00:00+08:00"), in: taipei).description, "2026-12-31")
    }

    func testLocalDateArithmeticMatchesFoundation() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var date = calendar.date(from: DateComponents(year: 1999, month: 12, day: 25))!
        var local = LocalDate(year: 1999, month: 12, day: 25)
        for _ in 0..<12_000 {
            let parts = calendar.dateComponents([.year, .month, .day, .weekday], from: date)
            XCTAssertEqual([local.year, local.month, local.day], [parts.year!, parts.month!, parts.day!])
            XCTAssertEqual(local.weekday, parts.weekday! - 1)
            XCTAssertEqual(LocalDate(dayNumber: local.dayNumber), local)
            date = calendar.date(byAdding: .day, value: 1, to: date)!
            local = local.adding(days: 1)
        }
    }

    func testParsingRejectsImpossibleDates() {
        XCTAssertEqual(LocalDate(iso: "2028-02-29")?.description, "2028-02-29")
        XCTAssertNil(LocalDate(iso: "2026-02-29"))
        XCTAssertNil(LocalDate(iso: "2026-13-01"))
        XCTAssertNil(LocalDate(iso: "2026-1-01"))
    }
}
