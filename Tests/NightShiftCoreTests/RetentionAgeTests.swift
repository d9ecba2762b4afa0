import NightShiftCore
import XCTest

final class RetentionAgeTests: XCTestCase {
    func date(_ text: String) -> LocalDate { LocalDate(iso: text)! }

    func testParsesCountAndUnit() {
        XCTAssertEqual(RetentionAge(text: "2 years"), RetentionAge(count: 2, unit: .years))
        XCTAssertEqual(RetentionAge(text: "90 days"), RetentionAge(count: 90, unit: .days))
        XCTAssertEqual(RetentionAge(text: "1 week"), RetentionAge(count: 1, unit: .weeks))
        XCTAssertEqual(RetentionAge(text: "6  Months"), RetentionAge(count: 6, unit: .months))
        for bad in ["", "2", "years", "0 days", "-1 days", "2 fortnights", "two years", "2 years ago"] {
            XCTAssertNil(RetentionAge(text: bad), bad)
        }
        XCTAssertEqual(RetentionAge(count: 1, unit: .years).description, "1 year")
        XCTAssertEqual(RetentionAge(count: 7, unit: .days).description, "7 days")
    }

    func testCutoffCountsBackOnTheCalendar() {
        XCTAssertEqual(RetentionAge(count: 2, unit: .years).cutoff(before: date("2026-11-21")), date("2024-11-21"))
        XCTAssertEqual(RetentionAge(count: 90, unit: .days).cutoff(before: date("2026-11-21")), date("2026-08-23"))
        XCTAssertEqual(RetentionAge(count: 7, unit: .days).cutoff(before: date("2026-03-03")), date("2026-02-24"))
        XCTAssertEqual(RetentionAge(count: 2, unit: .weeks).cutoff(before: date("2026-01-05")), date("2025-12-22"))
        // A day the earlier month or year does not have becomes that month's last day.
        XCTAssertEqual(RetentionAge(count: 1, unit: .months).cutoff(before: date("2026-03-31")), date("2026-02-28"))
        XCTAssertEqual(RetentionAge(count: 1, unit: .years).cutoff(before: date("2028-02-29")), date("2027-02-28"))
        XCTAssertEqual(RetentionAge(count: 4, unit: .years).cutoff(before: date("2028-02-29")), date("2024-02-29"))
        XCTAssertEqual(RetentionAge(count: 13, unit: .months).cutoff(before: date("2026-01-15")), date("2024-12-15"))
        XCTAssertEqual(RetentionAge(count: 3, unit: .months).cutoff(before: date("0001-02-10")), date("0000-11-10"))
    }
}
