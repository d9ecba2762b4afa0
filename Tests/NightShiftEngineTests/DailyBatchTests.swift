import Foundation
import NightShiftCore
import NightShiftEngine
import TestSupport
import XCTest

final class DailyBatchTests: XCTestCase {
    var night: NightFixture!

    override func setUpWithError() throws { night = try NightFixture() }
    override func tearDown() { night?.tearDown() }

    func testDailyBatchRunsTheSliceInOrderAndEveryOutputIsReal() throws {
        // Smaller export files, so the day spans several CSVs inside the archive.
        var job = try night.project.read("jobs/daily_delivery_export.yaml")
        job = job.replacingOccurrences(of: "rows_per_file: 50000", with: "rows_per_file: 500")
        try night.project.write("jobs/daily_delivery_export.yaml", job)

        let report = try night.run()
        XCTAssertEqual(report.state, .succeeded, "\(report.jobs.map { "\($0.job.name): \($0.failure?.description ?? "")" })")
        XCTAssertEqual(report.businessDate.description, "2026-11-22")
        // Dependency and priority order: the P2 aggregation, then its report and the P3 calculation,
        // the export that needs both and the other P3 aggregations, then the P4 trend, the
        // reconciliation and the register.
        let order = ["daily_sales_summary", "branch_sales_report", "delivery_charges", "daily_delivery_export", "hourly_deliveries",
                     "inventory_snapshot", "customer_consumption", "cylinder_reconciliation", "delivery_register"]
        XCTAssertEqual(report.jobs.map(\.job.name), order)
        XCTAssertEqual(report.jobs.map(\.state), order.map { _ in .succeeded })

        // (a) aggregation: matches the deliveries, computed independently here.
        let delivered = try night.count("SELECT count(*) FROM erp.deliveries WHERE delivery_date = '2026-11-22' AND status = 'delivered'")
        XCTAssertGreaterThan(delivered, 1000, "the test needs more than one chunk")
        XCTAssertEqual(try night.count("SELECT sum(deliveries) FROM erp.daily_sales_summary WHERE business_date = '2026-11-22'"), delivered)
        XCTAssertEqual(try night.scalar("SELECT sum(revenue) FROM erp.daily_sales_summary WHERE business_date = '2026-11-22'"),
                       try night.scalar("SELECT sum(amount) FROM erp.deliveries WHERE delivery_date = '2026-11-22' AND status = 'delivered'"))

        // (b) calculation: every delivered delivery charged once; checkpoint at the last key.
        XCTAssertEqual(try night.count("SELECT count(*) FROM erp.delivery_charges WHERE business_date = '2026-11-22'"), delivered)
        XCTAssertEqual(try night.count("SELECT count(*) FROM erp.delivery_charges WHERE vat <> round(gross * 5 / 105, 0) OR net <> gross - vat"), 0)
        let checkpoint = try night.db.execute("SELECT * FROM nightshift.checkpoints WHERE job = 'delivery_charges'")
        XCTAssertEqual(checkpoint.rowCount, 1)
        XCTAssertEqual(checkpoint.int(0, "rows_done"), delivered)
        XCTAssertEqual(checkpoint.int(0, "chunks_done"), (delivered + 999) / 1000)
        XCTAssertEqual(checkpoint.bool(0, "completed"), true)
        XCTAssertEqual(checkpoint.string(0, "last_key"),
                       try night.scalar("SELECT max(id) FROM erp.deliveries WHERE delivery_date = '2026-11-22' AND status = 'delivered'"))
        XCTAssertEqual(try night.count("SELECT count(*) FROM pg_class WHERE relname LIKE 'batch_temp_%'"), 0)

        // (c) export: only ciphertext and the manifest on disk, a zip per 500 rows; gpg decrypts
        // each, unzip reads it, every SHA-256 and row count matches the manifest.
        let exports = "\(night.project.root)/var/exports"
        let all = try night.count("SELECT count(*) FROM erp.deliveries WHERE delivery_date = '2026-11-22'")
        let parts = (all + 499) / 500
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: exports).sorted(),
                       ((1...parts).map { String(format: "deliveries-2026-11-22-%04d.zip.gpg", $0) } + ["deliveries-2026-11-22.manifest.json"]).sorted())
        XCTAssertEqual(report.jobs[3].rows, all)
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let export = try ExportOnDisk(directory: exports, base: "deliveries-2026-11-22", keyring: night.keyring, work: work.path)
        XCTAssertEqual(export.rows, all)
        XCTAssertEqual(export.files.map(\.name), (1...parts).map { String(format: "deliveries-2026-11-22-%04d.csv", $0) })
        XCTAssertEqual(export.manifest["encrypted_to"] as? [String], [try night.keyring.fingerprint()])
        let manifest = (files: export.files, rows: export.rows)

        var exportedIDs: [String] = []
        var exportedAmounts: [String: String] = [:]
        for file in manifest.files {
            let lines = file.text.split(separator: "\n")
            XCTAssertEqual(lines.first, "delivery_id,delivered_at,branch,customer_id,customer_name,customer_phone,customer_address,product,quantity,amount,vat,net,deposit_due,status")
            XCTAssertEqual(lines.count - 1, file.rows)
            for line in lines.dropFirst() {
                let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                XCTAssertEqual(fields.count, 14, String(line))
                exportedIDs.append(fields[0])
                exportedAmounts[fields[0]] = fields[9]
            }
        }
        let rows = try night.db.execute("SELECT id, amount FROM erp.deliveries WHERE delivery_date = '2026-11-22' ORDER BY id")
        XCTAssertEqual(exportedIDs, (0..<rows.rowCount).map { rows.string($0, "id")! })
        for row in 0..<rows.rowCount { XCTAssertEqual(exportedAmounts[rows.string(row, "id")!], rows.string(row, "amount")) }

        // (d) summary message in the outbox, parsed by Python's e-mail parser.
        let eml = report.summary!.path
        XCTAssertTrue(eml.hasPrefix("\(night.project.root)/var/outbox/daily-2026-11-22-run"))
        let parsed = try runProcess(["python3", "-c", """
            import email, sys
            from email import policy
            m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
            print(m['Subject']); print(m.get_body(('plain',)).get_content()); print(m.get_body(('html',)).get_content())
            """, eml])
        XCTAssertEqual(parsed.status, 0, parsed.stderr)
        XCTAssertTrue(parsed.stdout.hasPrefix("[NightShift] daily batch 2026-11-22: all 9 jobs succeeded\n"), parsed.stdout)
        for name in order + ["幸福瓦斯"] {
            XCTAssertTrue(parsed.stdout.contains(name), name)
        }
        XCTAssertTrue(parsed.stdout.contains("rows: \(formatted(delivered))"), parsed.stdout)

        // Everything is recorded: batch run, job runs with rows, every transition, every output.
        let batch = try night.db.execute("SELECT * FROM nightshift.batch_runs WHERE id = $1", [String(report.batchRunID)])
        XCTAssertEqual(batch.string(0, "state"), "succeeded")
        XCTAssertEqual(batch.int(0, "jobs_succeeded"), 9)
        XCTAssertNotNil(batch.string(0, "finished_at"))
        let jobRows = try night.db.execute("SELECT job, state, rows_processed, attempts FROM nightshift.job_runs WHERE batch_run_id = $1 ORDER BY id",
                                           [String(report.batchRunID)])
        XCTAssertEqual((0..<jobRows.rowCount).map { jobRows.string($0, "state") }, order.map { _ in "succeeded" })
        XCTAssertEqual((0..<jobRows.rowCount).first { jobRows.string($0, "job") == "delivery_charges" }.flatMap { jobRows.int($0, "rows_processed") },
                       delivered)
        let transitions = try night.db.execute("""
            SELECT coalesce(j.job, '(batch)') || ':' || coalesce(t.from_state, '') || '>' || t.to_state AS step
            FROM nightshift.state_transitions t LEFT JOIN nightshift.job_runs j ON j.id = t.job_run_id ORDER BY t.id
            """)
        // On one slot they ran in queue order: priority, then the longest remaining path (the
        // calculation has the export and the register behind it; the export ties with the snapshot
        // and its reconciliation, and wins by name), then name.
        let ran = ["daily_sales_summary", "delivery_charges", "daily_delivery_export", "inventory_snapshot", "branch_sales_report",
                   "hourly_deliveries", "customer_consumption", "delivery_register", "cylinder_reconciliation"]
        XCTAssertEqual((0..<transitions.rowCount).map { transitions.string($0, "step")! },
                       ["(batch):>running"] + order.map { "\($0):>pending" }
                       + ran.flatMap { ["\($0):pending>running", "\($0):running>succeeded"] } + ["(batch):running>succeeded"])
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.outputs WHERE batch_run_id = $1", [String(report.batchRunID)]), parts + 1 + 4 + 1 + 1)
    }

    func testRunningTheSameDateTwiceGivesTheSameResults() throws {
        let fingerprint = """
            SELECT md5(string_agg(s::text, '|' ORDER BY business_date, branch_id, product_id)) FROM erp.daily_sales_summary s
            """
        let charges = "SELECT md5(string_agg((delivery_id, gross, vat, net, deposit_due, driver_commission)::text, '|' ORDER BY delivery_id)) FROM erp.delivery_charges"
        XCTAssertEqual(try night.run().state, .succeeded)
        let first = (try night.scalar(fingerprint), try night.scalar(charges))
        let rowsFirst = try night.count("SELECT count(*) FROM erp.daily_sales_summary")
        XCTAssertEqual(try night.run().state, .succeeded)
        XCTAssertEqual(try night.count("SELECT count(*) FROM erp.daily_sales_summary"), rowsFirst)
        XCTAssertEqual(try night.scalar(fingerprint), first.0)
        XCTAssertEqual(try night.scalar(charges), first.1)
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.batch_runs WHERE state = 'succeeded'"), 2)
    }
}

func formatted(_ n: Int) -> String {
    let formatter = NumberFormatter()
    formatter.numberStyle = .decimal
    formatter.groupingSeparator = ","
    formatter.usesGroupingSeparator = true
    return formatter.string(from: NSNumber(value: n))!
}
