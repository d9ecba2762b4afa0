import Foundation
import NightShiftEngine
import TestSupport
import XCTest

/// Report jobs, their files opened by the tools the office uses or that check them independently:
/// Python's csv module, iconv -f BIG5, gzip, a fixed-width trailer recomputed in Python.
final class ReportExecutorTests: XCTestCase {
    var night: NightFixture!
    var reports: String { "\(night.project.root)/var/reports" }

    override func setUpWithError() throws {
        night = try NightFixture(customers: 1500, days: 1)
    }

    override func tearDown() { night?.tearDown() }

    func python(_ script: String, _ arguments: [String]) throws -> String {
        let result = try runProcess(["python3", "-c", script] + arguments)
        guard result.status == 0 else { throw TestSetupError("python failed: \(result.stderr)") }
        return result.stdout
    }

    func testBranchSalesInHTMLCSVAndBig5FixedWidthAgreeWithTheDatabase() throws {
        let report = try night.run()
        let errors = try night.scalar("SELECT string_agg(job || ': ' || error_message, '; ') FROM nightshift.job_runs") ?? ""
        XCTAssertEqual(report.jobs.first { $0.job.name == "branch_sales_report" }?.state.rawValue, "succeeded", errors)
        let folder = "\(reports)/branch_sales_report"
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).sorted(),
                       ["branch-sales-2026-11-22-big5.txt", "branch-sales-2026-11-22.csv", "branch-sales-2026-11-22.html"])
        let expected = try night.db.execute("""
            SELECT b.code, b.name, p.sku, s.deliveries, s.cylinders, s.kilograms, s.revenue
            FROM erp.daily_sales_summary s JOIN erp.branches b ON b.id = s.branch_id JOIN erp.products p ON p.id = s.product_id
            WHERE s.business_date = '2026-11-22' ORDER BY b.code, p.sku
            """)
        XCTAssertGreaterThan(expected.rowCount, 10)
        let lines = (0..<expected.rowCount).map { r in (0..<7).map { expected.string(r, $0)! }.joined(separator: "|") }

        // CSV with a BOM, read by Python's csv module as Excel would ('utf-8-sig').
        let csv = try python("""
            import csv, sys
            raw = open(sys.argv[1], 'rb').read()
            assert raw.startswith(b'\\xef\\xbb\\xbf'), 'no BOM'
            assert b'\\r\\n' in raw, 'not CRLF'
            rows = list(csv.reader(open(sys.argv[1], encoding='utf-8-sig', newline='')))
            assert rows[0] == ['branch','branch_name','product','product_name','deliveries','cylinders','kilograms','revenue'], rows[0]
            for r in rows[1:]: print('|'.join([r[0], r[1], r[2], r[4], r[5], r[6], r[7]]))
            """, ["\(folder)/branch-sales-2026-11-22.csv"])
        XCTAssertEqual(csv.split(separator: "\n").map(String.init), lines)

        // Fixed-width Big5: iconv decodes it; widths are bytes; the trailer is recomputed independently.
        let big5 = "\(folder)/branch-sales-2026-11-22-big5.txt"
        let decoded = try runProcess(["iconv", "-f", "BIG5", "-t", "UTF-8", big5])
        XCTAssertEqual(decoded.status, 0, decoded.stderr)
        XCTAssertTrue(decoded.stdout.contains("台北營業所"), decoded.stdout)
        let total = try night.scalar("SELECT sum(revenue) FROM erp.daily_sales_summary WHERE business_date = '2026-11-22'")!
        let fixed = try python("""
            import hashlib, sys
            data = open(sys.argv[1], 'rb').read()
            records = data.split(b'\\r\\n')
            assert records[-1] == b'', 'the file ends with CRLF'
            details, trailer = records[:-2], records[-2]
            for rec in details:
                assert len(rec) == 68, (len(rec), rec)
            body = b''.join(rec + b'\\r\\n' for rec in details)
            assert trailer[:1] == b'T'
            assert int(trailer[1:11]) == len(details), trailer
            print(trailer[11:29].decode().lstrip('0'))
            assert trailer[29:93].decode() == hashlib.sha256(body).hexdigest(), 'checksum'
            for rec in details:
                f = [rec[0:3], rec[3:15], rec[15:21], rec[21:30], rec[30:40], rec[40:52], rec[52:68]]
                print('|'.join([f[0].decode('big5').strip(), f[1].decode('big5').strip(), f[2].decode().strip()] + [str(int(x)) if b'.' not in x else x.decode().lstrip('0') for x in f[3:]]))
            """, [big5]).split(separator: "\n").map(String.init)
        XCTAssertEqual(fixed.first, total)
        XCTAssertEqual(Array(fixed.dropFirst()), lines.map { line in
            var fields = line.split(separator: "|").map(String.init)
            fields[6] = fields[6].hasPrefix("0.") ? String(fields[6].dropFirst()) : fields[6]
            return fields.joined(separator: "|")
        })

        // HTML: one table per branch with its subtotal, and the grand total, in Traditional Chinese.
        let html = try String(contentsOfFile: "\(folder)/branch-sales-2026-11-22.html", encoding: .utf8)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        XCTAssertTrue(html.contains("各營業所銷售日報 Branch sales report"))
        XCTAssertTrue(html.contains("<h2>TPE 台北營業所</h2>"), html)
        XCTAssertTrue(html.hasSuffix("</html>\n"))
        let branches = try night.count("SELECT count(DISTINCT branch_id) FROM erp.daily_sales_summary WHERE business_date = '2026-11-22'")
        XCTAssertEqual(html.components(separatedBy: "小計 Subtotal").count - 1, branches)
        XCTAssertTrue(html.contains("<td class=\"n\">\(total)</td></tr>\n</table>\n<p>\(branches) branches, \(expected.rowCount) lines.</p>"), html)
        let tpe = try night.scalar("SELECT sum(revenue) FROM erp.daily_sales_summary WHERE business_date = '2026-11-22' AND branch_id = 1")!
        XCTAssertTrue(html.contains("<td>小計 Subtotal</td>") && html.contains(">\(tpe)</td></tr>"), html)

        // Outputs are recorded with their SHA-256.
        let recorded = try night.db.execute("SELECT path, sha256, rows FROM nightshift.outputs WHERE kind = 'report' ORDER BY path")
        XCTAssertEqual(recorded.rowCount, 5, "3 sales report files, the register, the reconciliation")
        for row in 0..<recorded.rowCount {
            XCTAssertEqual(recorded.string(row, "sha256"), try sha256sum(recorded.string(row, "path")!))
        }
    }

    func testTheRegisterIsSplitGzippedBig5AndHoldsEveryDeliveryOnce() throws {
        var job = try night.project.read("jobs/delivery_register.yaml")
        job = job.replacingOccurrences(of: "split_rows: 100000", with: "split_rows: 150")
        job = job.replacingOccurrences(of: "fetch_size: 10000", with: "fetch_size: 100")
        try night.project.write("jobs/delivery_register.yaml", job)
        // A name with a character Big5 has (堃 is not in Big5, 瓦 is) and one with a quote and a comma.
        try night.db.execute("""
            UPDATE erp.customers SET name = '陳"大",瓦斯行' WHERE id = (SELECT customer_id FROM erp.deliveries WHERE delivery_date = '2026-11-22' ORDER BY id LIMIT 1)
            """)
        _ = try night.run()
        let folder = "\(reports)/delivery_register"
        let all = try night.count("SELECT count(*) FROM erp.deliveries WHERE delivery_date = '2026-11-22'")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        XCTAssertEqual(files, (1...((all + 149) / 150)).map { String(format: "delivery-register-2026-11-22-%04d.csv.gz.gpg", $0) })
        let ids = try python("""
            import csv, gzip, io, subprocess, sys
            for path in sys.argv[2:]:
                packed = subprocess.run(['gpg', '--homedir', sys.argv[1], '--batch', '--decrypt', path], check=True, capture_output=True).stdout
                raw = subprocess.run(['gzip', '-dc'], input=packed, check=True, capture_output=True).stdout
                text = subprocess.run(['iconv', '-f', 'BIG5', '-t', 'UTF-8'], input=raw, check=True, capture_output=True).stdout.decode()
                rows = list(csv.reader(io.StringIO(text, newline='')))
                assert rows[0][0] == 'delivery_id', rows[0]
                assert len(rows) - 1 <= 150
                for r in rows[1:]:
                    assert len(r) == 11, r
                    print(r[0] + '|' + r[3])
            """, [night.keyring.home] + files.map { "\(folder)/\($0)" }).split(separator: "\n").map(String.init)
        let expected = try night.db.execute("""
            SELECT d.id, c.name FROM erp.deliveries d JOIN erp.customers c ON c.id = d.customer_id
            WHERE d.delivery_date = '2026-11-22' ORDER BY d.id
            """)
        XCTAssertEqual(ids, (0..<expected.rowCount).map { "\(expected.string($0, "id")!)|\(expected.string($0, "name")!)" })
        XCTAssertTrue(ids[0].hasSuffix("|陳\"大\",瓦斯行"), ids[0])

        // A rerun without the split replaces the parts by one file.
        try night.project.write("jobs/delivery_register.yaml", job.replacingOccurrences(of: "      split_rows: 150\n", with: ""))
        _ = try night.run()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["delivery-register-2026-11-22.csv.gz.gpg"])
    }

    /// customer_data: true — the files are OpenPGP messages from the first byte written: no plaintext
    /// file, staged or final, ever exists; real gpg opens them to exactly what a plaintext run writes.
    func testCustomerDataIsEncryptedAsItIsWrittenAndDecryptsToThePlaintextRun() throws {
        var job = try night.project.read("jobs/delivery_register.yaml")
        XCTAssertTrue(job.contains("customer_data: true"))
        job = job.replacingOccurrences(of: "      compress: gzip\n", with: "").replacingOccurrences(of: "      split_rows: 100000\n", with: "")
        job = job.replacingOccurrences(of: "fetch_size: 10000", with: "fetch_size: 100")
        let plainJob = job.replacingOccurrences(of: "  customer_data: true", with: "  customer_data: false")
        XCTAssertNotEqual(plainJob, job)
        try night.project.write("jobs/delivery_register.yaml", plainJob)
        _ = try night.run()
        let folder = "\(reports)/delivery_register"
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["delivery-register-2026-11-22.csv"])
        let plain = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/delivery-register-2026-11-22.csv"))
        XCTAssertGreaterThan(plain.count, 10_000)

        // While the report is being written, watch the folder: only OpenPGP bytes ever appear.
        try night.project.write("jobs/delivery_register.yaml", job)
        let watching = FolderWatch(folder: folder, ignoring: ["delivery-register-2026-11-22.csv"])  // the earlier plaintext run's
        _ = try night.run()
        let seen = watching.stop()
        XCTAssertFalse(seen.files.isEmpty)
        XCTAssertTrue(seen.plaintext.isEmpty, "plaintext seen on disk: \(seen.plaintext)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["delivery-register-2026-11-22.csv.gpg"],
                       "the plaintext file of the earlier run is retired")
        let path = "\(folder)/delivery-register-2026-11-22.csv.gpg"
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        XCTAssertEqual((attributes[.posixPermissions] as? Int).map { String($0, radix: 8) }, "640")
        let packets = try runProcess(["gpg", "--homedir", night.keyring.home, "--batch", "--list-packets", path])
        XCTAssertTrue(packets.stdout.contains(":pubkey enc packet:"), packets.stdout + packets.stderr)
        let opened = "\(night.project.root)/opened.csv"
        try night.keyring.decrypt(path, to: opened)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: opened)), plain)
        let recorded = try night.db.execute("SELECT path, sha256 FROM nightshift.outputs WHERE path LIKE '%delivery-register%' ORDER BY id DESC LIMIT 1")
        XCTAssertEqual(recorded.string(0, "path"), path)
        XCTAssertEqual(recorded.string(0, "sha256"), try sha256sum(path), "the recorded digest is the file's, as delivered")
    }

    /// `format: xlsx`: a customer-data workbook, encrypted, opened by gpg and read back by openpyxl.
    /// Numbers are numbers, dates and times are dates (a timestamptz in Taipei time), booleans are
    /// booleans, NULL is an empty cell, a formula-looking text stays text, a numeric Excel cannot
    /// hold exactly stays text, and the Chinese names are intact; every sheet has the header, a new
    /// sheet starts every `sheet_rows` rows and a new workbook every `split_rows`. No scratch file
    /// stays. A text too long for a cell fails the job naming the row and the column.
    func testAnExcelWorkbookHasTypedCellsAHeaderOnEverySheetAndIsEncryptedForCustomerData() throws {
        try night.project.write("sql/reports/excel_check.sql", """
            SELECT d.id AS delivery_id, d.delivery_date, d.delivered_at, c.name AS customer, d.amount, d.quantity,
                   d.status = 'delivered' AS delivered, NULL::text AS nothing, '=1+1' AS formula,
                   12345678901234567890.5::numeric AS too_precise, :note AS note
            FROM erp.deliveries d JOIN erp.customers c ON c.id = d.customer_id
            WHERE d.delivery_date = :business_date::date ORDER BY d.id
            """)
        let job = """
            name: excel_check
            description: Excel check
            kind: report
            batch: daily
            priority: P4
            estimate_minutes: 1
            report:
              query: reports/excel_check.sql
              parameters: {note: "瓦斯 ok"}
              customer_data: true
              fetch_size: 100
              outputs:
                - format: xlsx
                  file: excel-check-{date}
                  sheet: 配送
                  sheet_rows: 100
                  split_rows: 250

            """
        try night.project.write("jobs/excel_check.yaml", job)
        try night.db.execute("""
            UPDATE erp.customers SET name = '幸福瓦斯行' WHERE id = (SELECT customer_id FROM erp.deliveries WHERE delivery_date = '2026-11-22' ORDER BY id LIMIT 1)
            """)
        _ = try night.run()
        let folder = "\(reports)/excel_check"
        let errors = try night.scalar("SELECT string_agg(job || ': ' || error_message, '; ') FROM nightshift.job_runs") ?? ""
        let all = try night.count("SELECT count(*) FROM erp.deliveries WHERE delivery_date = '2026-11-22'")
        XCTAssertGreaterThan(all, 250)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        XCTAssertEqual(files, (1...((all + 249) / 250)).map { String(format: "excel-check-2026-11-22-%04d.xlsx.gpg", $0) }, errors)
        let cells = try runProcess(["/usr/bin/python3", "-c", """
            import datetime, io, subprocess, sys, openpyxl
            header = ['delivery_id', 'delivery_date', 'delivered_at', 'customer', 'amount', 'quantity', 'delivered', 'nothing', 'formula', 'too_precise', 'note']
            for path in sys.argv[2:]:
                raw = subprocess.run(['gpg', '--homedir', sys.argv[1], '--batch', '--decrypt', path], check=True, capture_output=True).stdout
                book = openpyxl.load_workbook(io.BytesIO(raw))
                rows_in_book = 0
                for number, sheet in enumerate(book.worksheets, 1):
                    assert sheet.title == ('配送' if number == 1 else '配送 %d' % number), sheet.title
                    rows = list(sheet.iter_rows(values_only=True))
                    assert list(rows[0]) == header, rows[0]
                    assert sheet['A1'].font.b, 'the header is bold'
                    assert 1 <= len(rows) - 1 <= 100, len(rows)
                    rows_in_book += len(rows) - 1
                    for r in rows[1:]:
                        (i, day, at, name, amount, quantity, delivered, nothing, formula, precise, note) = r
                        assert type(i) is int and type(quantity) is int, r
                        assert type(amount) in (int, float), r
                        assert isinstance(day, datetime.datetime) and isinstance(at, datetime.datetime), r
                        assert type(delivered) is bool and nothing is None, r
                        assert formula == '=1+1' and precise == '12345678901234567890.5', r
                        print('|'.join([str(i), day.strftime('%Y-%m-%d'), at.strftime('%Y-%m-%d %H:%M:%S'), name, '%.2f' % amount, str(quantity), str(delivered).lower(), note]))
                assert rows_in_book <= 250, rows_in_book
            """, night.keyring.home] + files.map { "\(folder)/\($0)" })
        XCTAssertEqual(cells.status, 0, cells.stderr)
        let expected = try night.db.execute("""
            SELECT d.id || '|' || d.delivery_date || '|' || to_char(d.delivered_at AT TIME ZONE 'Asia/Taipei', 'YYYY-MM-DD HH24:MI:SS') || '|' ||
                   c.name || '|' || d.amount || '|' || d.quantity || '|' || (d.status = 'delivered') || '|瓦斯 ok' AS line
            FROM erp.deliveries d JOIN erp.customers c ON c.id = d.customer_id WHERE d.delivery_date = '2026-11-22' ORDER BY d.id
            """)
        let lines = cells.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines, (0..<expected.rowCount).map { expected.string($0, "line")! })
        XCTAssertTrue(lines.first?.contains("|幸福瓦斯行|") == true, lines.first ?? "")
        let recorded = try night.count("SELECT count(*) FROM nightshift.outputs WHERE path LIKE '%excel-check-2026-11-22-%.xlsx.gpg'")
        XCTAssertEqual(recorded, files.count)

        // A text longer than a cell holds: the job fails naming the output, row and column; nothing stays.
        try night.project.write("jobs/excel_check.yaml", job.replacingOccurrences(of: "{note: \"瓦斯 ok\"}", with: "{note: \"x\"}"))
        try night.project.write("sql/reports/excel_check.sql", """
            SELECT d.id, CASE WHEN row_number() OVER (ORDER BY d.id) = 7 THEN repeat('長', 40000) ELSE :note END AS remark
            FROM erp.deliveries d WHERE d.delivery_date = :business_date::date ORDER BY d.id
            """)
        try FileManager.default.removeItem(atPath: folder)
        _ = try night.run()
        let failed = try night.db.execute("SELECT state, error_message FROM nightshift.job_runs WHERE job = 'excel_check' ORDER BY id DESC LIMIT 1")
        XCTAssertEqual(failed.string(0, "state"), "failed")
        let message = failed.string(0, "error_message") ?? ""
        XCTAssertTrue(message.contains("jobs/excel_check.yaml report.outputs[0] (excel-check-2026-11-22.xlsx), row 7, column remark: the text has 40000 characters and an Excel cell holds at most 32767"), message)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [], "no scratch or staged file stays")
    }

    func testACharacterBig5CannotHoldAndAValueTooWideNameTheRowAndColumn() throws {
        try night.db.execute("""
            UPDATE erp.customers SET name = '王小明😀' WHERE id = (SELECT customer_id FROM erp.deliveries WHERE delivery_date = '2026-11-22' ORDER BY id LIMIT 1 OFFSET 4)
            """)
        var fixed = try night.project.read("jobs/branch_sales_report.yaml")
        fixed = fixed.replacingOccurrences(of: "{column: revenue, width: 16", with: "{column: revenue, width: 4")
        try night.project.write("jobs/branch_sales_report.yaml", fixed)
        let report = try night.run()
        let register = try night.db.execute("SELECT state, error_message FROM nightshift.job_runs WHERE job = 'delivery_register'")
        XCTAssertEqual(register.string(0, "state"), "failed")
        let message = register.string(0, "error_message") ?? ""
        XCTAssertTrue(message.contains("jobs/delivery_register.yaml report.outputs[0] (delivery-register-2026-11-22.csv), row 5, column customer: a character has no BIG5 form (\"😀\", U+1F600)"), message)
        XCTAssertTrue(message.contains("Fix: write this output in utf-8, or replace the character in the query"), message)
        let sales = try night.db.execute("SELECT state, error_message FROM nightshift.job_runs WHERE job = 'branch_sales_report'")
        XCTAssertEqual(sales.string(0, "state"), "failed")
        XCTAssertTrue((sales.string(0, "error_message") ?? "").contains("row 1, column revenue:") , sales.string(0, "error_message") ?? "")
        XCTAssertTrue((sales.string(0, "error_message") ?? "").contains("wider than its field of 4"), sales.string(0, "error_message") ?? "")
        // Nothing half-written is left, and the rest of the night ran.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(reports)/delivery_register"), [])
        XCTAssertEqual(report.jobs.first { $0.job.name == "daily_delivery_export" }?.state.rawValue, "succeeded")
    }
}

/// Polls a folder on a thread of its own and notes every file whose first byte is not the start of
/// an OpenPGP packet (bit 7 set): a plaintext file, staged or final.
final class FolderWatch: @unchecked Sendable {
    struct Seen { var plaintext: Set<String> = []; var files: Set<String> = [] }
    private let lock = NSLock()
    private var seen = Seen()
    private var running = true
    private let finished = DispatchSemaphore(value: 0)

    init(folder: String, ignoring: Set<String> = []) {
        Thread { [self] in
            while lock.withLock({ running }) {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where !ignoring.contains(name) {
                    guard let handle = FileHandle(forReadingAtPath: "\(folder)/\(name)") else { continue }
                    let first = (try? handle.read(upToCount: 1)) ?? nil
                    try? handle.close()
                    lock.withLock {
                        seen.files.insert(name)
                        if let byte = first?.first, byte & 0x80 == 0 { seen.plaintext.insert(name) }
                    }
                }
                usleep(500)
            }
            finished.signal()
        }.start()
    }

    func stop() -> Seen {
        lock.withLock { running = false }
        finished.wait()
        return lock.withLock { seen }
    }
}
