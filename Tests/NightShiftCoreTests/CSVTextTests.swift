import NightShiftCore
import XCTest

final class CSVTextTests: XCTestCase {
    func testQuotesWhatRFC4180AsksAndNothingElse() {
        XCTAssertEqual(CSVText.field("plain"), "plain")
        XCTAssertEqual(CSVText.field(nil), "")
        XCTAssertEqual(CSVText.field(""), "")
        XCTAssertEqual(CSVText.field("a,b"), "\"a,b\"")
        XCTAssertEqual(CSVText.field("say \"hi\""), "\"say \"\"hi\"\"\"")
        XCTAssertEqual(CSVText.field("Line1\nLine2"), "\"Line1\nLine2\"")
        XCTAssertEqual(CSVText.field("Line1\rLine2"), "\"Line1\rLine2\"")
        // "\r\n" is one Character in Swift: it must still be quoted (the delivery register bug).
        XCTAssertEqual(CSVText.field("Line1\r\nLine2"), "\"Line1\r\nLine2\"")
        XCTAssertEqual(CSVText.field(" padded"), "\" padded\"")
        XCTAssertEqual(CSVText.field("padded "), "\"padded \"")
        XCTAssertEqual(CSVText.field("台北市信義區"), "台北市信義區")
        XCTAssertEqual(CSVText.record(["a", nil, "b,c", ""]), "a,,\"b,c\",")
    }

    func testFormulasAreNeutralisedOnlyForExcel() {
        for formula in ["=cmd|' /c calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1", "=1"] {
            XCTAssertEqual(CSVText.field(formula), CSVText.field(formula, forExcel: false))
            let safe = CSVText.field(formula, forExcel: true)
            XCTAssertTrue(safe.hasPrefix("\"'"), "\(formula.debugDescription) → \(safe.debugDescription)")
        }
        XCTAssertEqual(CSVText.field("=cmd|' /c'!A", forExcel: true), "\"'=cmd|' /c'!A\"")
        // Numbers stay numbers.
        for number in ["-12", "-12.50", "+3", "-1.5e3", "1E-2", "0"] {
            XCTAssertEqual(CSVText.field(number, forExcel: true), number)
        }
        XCTAssertEqual(CSVText.field("-", forExcel: true), "\"'-\"")
        XCTAssertEqual(CSVText.field("-1e", forExcel: true), "\"'-1e\"")
        XCTAssertEqual(CSVText.field("幸福=瓦斯", forExcel: true), "幸福=瓦斯")
    }
}
