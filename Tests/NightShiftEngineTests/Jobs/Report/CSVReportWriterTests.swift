import Foundation
@testable import NightShiftEngine
import NightShiftCore
import TestSupport
import XCTest

/// The one CSV writer, fed random fields (CR, LF, CRLF, quotes, commas, spaces, CJK text, empty
/// and NULL) and read back by Python's csv module, in UTF-8 and in Big5.
final class CSVReportWriterTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "nightshift-csv-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

    static let pieces = ["a", "Z", "0", "-", "=", ",", "\"", "\r", "\n", "\r\n", " ", "\t", "幸福", "瓦斯", "台北", "高雄", "桶", "地址", "'", ";"]

    func randomRows(seed: UInt64, count: Int, columns: Int) -> [[String?]] {
        var random = SplitMix(seed: seed)
        return (0..<count).map { _ in
            (0..<columns).map { _ in
                switch random.next() % 10 {
                case 0: return nil
                case 1: return ""
                default: return (0..<(1 + Int(random.next() % 8))).map { _ in random.pick(Self.pieces) }.joined()
                }
            }
        }
    }

    func write(_ rows: [[String?]], columns: [String], encoding: ReportOutput.Encoding, forExcel: Bool) throws -> String {
        let output = ReportOutput(file: "out", format: .csv(bom: false, forExcel: forExcel), encoding: encoding)
        let files = ReportFileSeries(directory: directory, base: "out-\(encoding.rawValue)-\(forExcel)", output: output, attempt: "j1a1")
        let writer = try CSVReportWriter(output: output, files: files, bom: false, forExcel: forExcel, name: "test")
        try writer.begin(columns: columns, types: columns.map { _ in 25 })
        for (number, row) in rows.enumerated() { try writer.write(row, number: number + 1) }
        let written = try writer.finish()
        XCTAssertEqual(written.count, 1)
        return try XCTUnwrap(written.first).staged
    }

    /// Python's reading of `path` as rows of strings.
    func readBack(_ path: String, encoding: String) throws -> [[String]] {
        let result = try runProcess(["/usr/bin/python3", "-c", """
            import csv, json, sys
            with open(sys.argv[1], newline='', encoding=sys.argv[2]) as f:
                print(json.dumps(list(csv.reader(f))))
            """, path, encoding])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try JSONDecoder().decode([[String]].self, from: Data(result.stdout.utf8))
    }

    func testRandomFieldsReadBackEqualInUTF8AndBig5() throws {
        let columns = ["id", "name", "address", "note"]
        for seed: UInt64 in [1, 2, 42] {
            let rows = randomRows(seed: seed, count: 300, columns: columns.count)
            let expected = [columns] + rows.map { $0.map { $0 ?? "" } }
            for (encoding, python) in [(ReportOutput.Encoding.utf8, "utf-8"), (.big5, "big5")] {
                let path = try write(rows, columns: columns, encoding: encoding, forExcel: false)
                let read = try readBack(path, encoding: python)
                XCTAssertEqual(read.count, expected.count, "seed \(seed), \(python): every record has its own row")
                for (index, (got, want)) in zip(read, expected).enumerated() where got != want {
                    XCTFail("seed \(seed), \(python), record \(index): read \(got.debugDescription), wrote \(want.debugDescription)")
                    break
                }
            }
        }
    }

    func testForExcelFormulasComeBackAsTextWithTheirQuoteMark() throws {
        let rows: [[String?]] = [["=cmd|' /c calc'!A0", "-12.50", "@SUM(A1:A9)"], ["+1+2", "台北\r\n高雄", nil]]
        let read = try readBack(try write(rows, columns: ["branch", "amount", "note"], encoding: .utf8, forExcel: true), encoding: "utf-8")
        XCTAssertEqual(read, [["branch", "amount", "note"], ["'=cmd|' /c calc'!A0", "-12.50", "'@SUM(A1:A9)"], ["'+1+2", "台北\r\n高雄", ""]])
    }
}
