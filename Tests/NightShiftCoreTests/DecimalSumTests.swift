import NightShiftCore
import XCTest

final class DecimalSumTests: XCTestCase {
    func testExactCentsWhateverTheScales() throws {
        var sum = DecimalSum()
        for value in ["1234.50", "0.25", "-7", "100", nil, "", "0.125"] { try sum.add(value) }
        XCTAssertEqual(sum.text, "1327.875")
        XCTAssertEqual(sum.count, 5)
        var cents = DecimalSum()
        for _ in 0..<10 { try cents.add("0.10") }
        XCTAssertEqual(cents.text, "1.00")
        var negative = DecimalSum()
        try negative.add("-0.05")
        XCTAssertEqual(negative.text, "-0.05")
        XCTAssertEqual(DecimalSum().text, "0")
    }

    func testWhatIsNotANumberIsSaid() {
        var sum = DecimalSum()
        XCTAssertThrowsError(try sum.add("12a")) { XCTAssertEqual("\($0)", "`12a` cannot be totalled: it is not a decimal number") }
        XCTAssertThrowsError(try sum.add("1e5"))
        var big = DecimalSum()
        XCTAssertNoThrow(try big.add("9223372036854775807"))
        XCTAssertThrowsError(try big.add("1")) { XCTAssertEqual("\($0)", "`1` cannot be totalled: the total passes the 64-bit range") }
    }
}
