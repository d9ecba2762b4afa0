import NightShiftCore
import XCTest

final class NamedParametersTests: XCTestCase {
    func testNamesBecomePositionsAndEachIsBoundOnce() throws {
        let bound = try NamedParameters.bind("SELECT * FROM t WHERE d = :business_date::date AND b = :branch OR d2 = :business_date",
                                             ["business_date": "2026-11-22", "branch": "TPE", "unused": "x"])
        XCTAssertEqual(bound.sql, "SELECT * FROM t WHERE d = $1::date AND b = $2 OR d2 = $1")
        XCTAssertEqual(bound.values, ["2026-11-22", "TPE"])
        XCTAssertEqual(bound.used, ["business_date", "branch"])
    }

    func testQuotesCommentsCastsDollarBodiesAndSlicesAreLeftAlone() throws {
        let sql = """
            SELECT ':not' AS a, "col:x", E'it\\'s :no', x::text, arr[1:n], $tag$ :inside $tag$, $$ :also $$, $1 -- :comment
            /* :block /* :nested */ */ FROM t WHERE y = :yes
            """
        let bound = try NamedParameters.bind(sql, ["yes": "1", "n": "2"])
        XCTAssertEqual(bound.sql, sql.replacingOccurrences(of: ":yes", with: "$1"))
        XCTAssertEqual(bound.values, ["1"])
    }

    func testAnUnknownNameSaysWhichAndWhere() {
        XCTAssertThrowsError(try NamedParameters.bind("SELECT 1\nWHERE a = :brnch", ["branch": "x"])) { error in
            XCTAssertEqual("\(error)", "the query uses :brnch (line 2), which is not a parameter; known: :branch")
        }
    }
}
