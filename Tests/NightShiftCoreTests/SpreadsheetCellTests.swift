import Foundation
import NightShiftCore
import XCTest

/// Report values as Excel cells: typed where Excel holds them exactly, text where it would not.
final class SpreadsheetCellTests: XCTestCase {
    let taipei = TimeZone(identifier: "Asia/Taipei")!

    func cell(_ text: String, _ kind: SpreadsheetCell.Kind) -> SpreadsheetCell { SpreadsheetCell(text, kind: kind, zone: taipei) }

    func testNumbersAreNumbersWhenExcelHoldsThemExactly() {
        XCTAssertEqual(cell("42", .number), .number(42))
        XCTAssertEqual(cell("-1234.50", .number), .number(-1234.5))
        XCTAssertEqual(cell("0.000123", .number), .number(0.000123))
        XCTAssertEqual(cell("123456789012345", .number), .number(123_456_789_012_345), "15 digits")
        XCTAssertEqual(cell("100.000000000000000000", .number), .number(100), "trailing zeros of a fraction are not significant")
        XCTAssertEqual(cell("1.5e+20", .number), .number(1.5e20), "a float8 is a double already")
        // More than Excel's 15 significant digits, not a number, not finite: the text as printed.
        XCTAssertEqual(cell("1234567890123456", .number), .text("1234567890123456"))
        XCTAssertEqual(cell("12345678901234567890.5", .number), .text("12345678901234567890.5"))
        XCTAssertEqual(cell("0.1234567890123456", .number), .text("0.1234567890123456"))
        XCTAssertEqual(cell("NaN", .number), .text("NaN"))
        XCTAssertEqual(cell("Infinity", .number), .text("Infinity"))
        XCTAssertEqual(cell("$1,234.00", .number), .text("$1,234.00"))
    }

    func testBooleansAndText() {
        XCTAssertEqual(cell("t", .boolean), .boolean(true))
        XCTAssertEqual(cell("f", .boolean), .boolean(false))
        XCTAssertEqual(cell("=HYPERLINK(\"x\")", .text), .text("=HYPERLINK(\"x\")"), "text is never a formula")
        XCTAssertEqual(cell("42", .text), .text("42"), "a text column stays text")
    }

    func testDatesAndTimestampsReadAsTheyArePrinted() {
        XCTAssertEqual(cell("2026-12-02", .date), .date(year: 2026, month: 12, day: 2))
        XCTAssertEqual(cell("2024-02-29", .date), .date(year: 2024, month: 2, day: 29))
        XCTAssertEqual(cell("2026-12-02 02:00:00", .timestamp), .dateTime(year: 2026, month: 12, day: 2, hour: 2, minute: 0, second: 0))
        XCTAssertEqual(cell("2026-12-02 23:59:59.25", .timestamp), .dateTime(year: 2026, month: 12, day: 2, hour: 23, minute: 59, second: 59.25))
        // What Excel cannot show as a date stays as PostgreSQL printed it.
        for text in ["2025-02-29", "1899-12-31", "0044-03-15 BC", "infinity", "-infinity", "2026-13-01", "12/02/2026", "10000-01-01"] {
            XCTAssertEqual(cell(text, .date), .text(text), text)
        }
        XCTAssertEqual(cell("2026-12-02 25:00:00", .timestamp), .text("2026-12-02 25:00:00"))
        XCTAssertEqual(cell("2026-12-02 02:00:00+08", .timestamp), .text("2026-12-02 02:00:00+08"), "a timestamp has no zone")
    }

    func testATimestampWithZoneIsShownInTheBusinessTimeZone() {
        XCTAssertEqual(cell("2026-12-02 02:00:00+08", .timestampWithZone), .dateTime(year: 2026, month: 12, day: 2, hour: 2, minute: 0, second: 0))
        XCTAssertEqual(cell("2026-12-01 18:00:00+00", .timestampWithZone), .dateTime(year: 2026, month: 12, day: 2, hour: 2, minute: 0, second: 0))
        XCTAssertEqual(cell("2026-12-31 20:30:15.5-05:30", .timestampWithZone),
                       .dateTime(year: 2027, month: 1, day: 1, hour: 10, minute: 0, second: 15.5), "over a year end, with a half-hour offset")
        XCTAssertEqual(cell("2024-02-28 20:00:00+00:00:00", .timestampWithZone), .dateTime(year: 2024, month: 2, day: 29, hour: 4, minute: 0, second: 0))
        XCTAssertEqual(cell("2026-12-02 02:00:00", .timestampWithZone), .text("2026-12-02 02:00:00"), "no offset: not as printed for timestamptz")
        XCTAssertEqual(cell("infinity", .timestampWithZone), .text("infinity"))
    }

    func testSheetNames() {
        XCTAssertNil(SheetName.problem("客戶對帳單"))
        XCTAssertEqual(SheetName.problem(""), "a sheet name cannot be empty")
        XCTAssertNotNil(SheetName.problem(String(repeating: "x", count: 32)))
        XCTAssertNotNil(SheetName.problem("a/b"))
        XCTAssertNotNil(SheetName.problem("'quoted'"))
        XCTAssertNotNil(SheetName.problem("History"))
        XCTAssertEqual(SheetName.numbered("配送", 1), "配送")
        XCTAssertEqual(SheetName.numbered("配送", 2), "配送 2")
        let long = String(repeating: "x", count: 31)
        XCTAssertEqual(SheetName.numbered(long, 12), String(repeating: "x", count: 28) + " 12")
        XCTAssertNil(SheetName.problem(SheetName.numbered(long, 12)))
        XCTAssertEqual(SheetName.from("customer_statements"), "customer_statements")
        XCTAssertEqual(SheetName.from("[]"), "Report")
    }
}
