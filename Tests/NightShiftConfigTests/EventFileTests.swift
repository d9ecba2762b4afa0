import Foundation
import NightShiftConfig
import NightShiftCore
import XCTest

/// Event files: every bad one is rejected with the field (and line) at fault and the fix.
final class EventFileTests: XCTestCase {
    let today = LocalDate(year: 2026, month: 11, day: 23)
    let jobs = [JobDefinition(name: "delivery_charges", description: "", kind: .calculation, batch: .daily, priority: .p3, dependsOn: [],
                              estimateSeconds: 60, retries: 3, action: .aggregation(sql: "x.sql"))]

    func parse(_ text: String) -> Result<InboxEvent, EventRejection> { EventFile.parse(Data(text.utf8), jobs: jobs, today: today) }

    func rejection(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> EventRejection? {
        guard case let .failure(rejection) = parse(text) else {
            XCTFail("accepted: \(text)", file: file, line: line)
            return nil
        }
        return rejection
    }

    func testValidYAMLAndJSON() {
        XCTAssertEqual(try parse("type: month_end_close_done\nbusiness_date: 2026-10-31\npriority: P2\nsource: erp-finance\n").get(),
                       InboxEvent(type: .monthEndCloseDone, businessDate: LocalDate(year: 2026, month: 10, day: 31), priority: .p2,
                                  source: "erp-finance"))
        XCTAssertEqual(try parse(#"{"type": "data_import_finished", "business_date": "2026-11-22", "priority": "P4", "source": "import.v2", "job": "delivery_charges", "note": "nightly feed done"}"#).get(),
                       InboxEvent(type: .dataImportFinished, businessDate: LocalDate(year: 2026, month: 11, day: 22), priority: .p4,
                                  source: "import.v2", job: "delivery_charges", note: "nightly feed done"))
    }

    func testEachKindOfBadFileNamesTheFieldAndTheFix() {
        let valid = ["type: data_import_finished", "business_date: 2026-11-22", "priority: P3", "source: erp"]
        func with(_ replace: Int?, _ line: String?) -> String {
            var lines = valid
            if let replace { if let line { lines[replace] = line } else { lines.remove(at: replace) } } else if let line { lines.append(line) }
            return lines.joined(separator: "\n")
        }
        let cases: [(String, String?, String)] = [
            (with(0, "type: month_end"), "type", "`month_end` is not one of month_end_close_done, data_import_finished"),
            (with(0, nil), "type", "missing required key"),
            (with(1, nil), "business_date", "missing required key"),
            (with(2, nil), "priority", "missing required key"),
            (with(3, nil), "source", "missing required key"),
            (with(1, "business_date: 2026-13-01"), "business_date", "`2026-13-01` is not a date YYYY-MM-DD"),
            (with(1, "business_date: 2024-01-01"), "business_date", "2024-01-01 is more than 45 days ago"),
            (with(1, "business_date: 2026-12-25"), "business_date", "2026-12-25 is in the future"),
            (with(2, "priority: P9"), "priority", "`P9` is not P1, P2, P3 or P4"),
            (with(3, "source: /etc/passwd"), "source", "looks like a file path"),
            (with(3, "source: \"x'; DROP TABLE nightshift.requests; --\""), "source", "contains SQL punctuation"),
            (with(3, "source: select * from users"), "source", "looks like SQL (`select …`)"),
            (with(3, "source: two words"), "source", "is not a name"),
            (with(nil, "note: \"drop table requests\""), "note", "looks like SQL"),
            (with(nil, "job: no_such_job"), "job", "no_such_job is not a configured job"),
            (with(nil, "prioritty: P1"), "prioritty", "unknown key"),
            (with(0, "type: [a, b]"), "type", "expected one of"),
        ]
        for (text, field, problem) in cases {
            guard let rejection = rejection(text) else { continue }
            XCTAssertEqual(rejection.field, field, "\(text) → \(rejection)")
            XCTAssertTrue(rejection.problem.contains(problem), "\(text) → \(rejection)")
            XCTAssertFalse(rejection.fix.isEmpty)
        }
        let syntax = rejection("type: data_import_finished\nbusiness_date: [2026-11-22\npriority: P1\n")
        XCTAssertEqual(syntax?.field, nil)
        XCTAssertTrue(syntax?.problem.contains("not valid YAML") == true, "\(String(describing: syntax))")
        XCTAssertNotNil(syntax?.line, "a syntax error names its line")
        XCTAssertTrue(rejection("[1, 2, 3]")?.problem.contains("expected a mapping") == true)
        XCTAssertTrue(rejection("")?.problem.contains("empty") == true)
        XCTAssertTrue(EventFile.parse(Data([0xff, 0xfe, 0x00, 0x41]), jobs: jobs, today: today).failureText.contains("not UTF-8"))
        XCTAssertTrue(EventFile.parse(Data(repeating: 0x61, count: 70_000), jobs: jobs, today: today).failureText.contains("more than 65536"))
        XCTAssertEqual(rejection(with(0, "type: month_end_close_done") + "\njob: delivery_charges")?.field, "job")
    }

    func testTheDescriptionSaysLineFieldProblemAndFix() {
        let text = "type: data_import_finished\nbusiness_date: 2026-11-22\npriority: P3\nsource: ../x\n"
        XCTAssertEqual(rejection(text)?.description, "line 4, field `source`: `../x` looks like a file path; fix: give a plain name (letters, digits, _ . -)")
    }
}

extension Result where Failure == EventRejection {
    var failureText: String {
        if case let .failure(rejection) = self { return rejection.description }
        return "accepted"
    }
}
