import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The operations report: its figures against an independent count of the runner tables, its CSV
/// read by Python's csv module, its HTML charts rendered by headless Chromium, and the Sunday mail
/// with the CSV attached, through a real SMTP server.
final class OperationsReportTests: XCTestCase {
    var night: RunnerNight!

    override func setUpWithError() throws { night = try RunnerNight(slow: false) }
    override func tearDown() { night?.tearDown() }

    /// Three nights: a clean one, one whose P2 aggregation fails for good, one whose calculation's
    /// first attempt hits a deadlock (transient) and recovers.
    private func threeNights() throws {
        XCTAssertEqual(try night.cli(["run", "--once", "--at", "2026-11-21T02:00:00+08:00"]).status, 0)
        let sales = try night.project.read("sql/jobs/daily_sales_summary.sql")
        try night.project.write("sql/jobs/daily_sales_summary.sql", "SELECT no_such_column FROM erp.deliveries;\n")
        XCTAssertEqual(try night.cli(["run", "--once", "--at", "2026-11-22T02:00:00+08:00"]).status, 1)
        try night.project.write("sql/jobs/daily_sales_summary.sql", sales)
        try night.query("CREATE SEQUENCE public.attempts")
        let stage = try night.project.read("sql/jobs/delivery_charges/stage.sql")
        try night.project.write("sql/jobs/delivery_charges/stage.sql", """
            DO $$ BEGIN IF nextval('public.attempts') = 1 THEN RAISE EXCEPTION 'deadlock (test)' USING ERRCODE = '40P01'; END IF; END $$;
            \(stage)
            """)
        let third = try night.cli(["run", "--once", "--at", "2026-11-23T02:00:00+08:00"])
        XCTAssertEqual(third.status, 0, third.stdout + third.stderr)
        XCTAssertEqual(try night.scalar("SELECT attempts FROM nightshift.job_runs WHERE job = 'delivery_charges' AND batch_run_id = 3"), "2")
    }

    func testTheFiguresAgreeWithTheRunnerTablesAndTheChartsRender() throws {
        try threeNights()
        let result = try night.cli(["report", "ops", "--from", "2026-11-21", "--to", "2026-11-23"])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        // Counted independently from the tables.
        let counts = try night.query("""
            SELECT (SELECT count(*) FROM nightshift.batch_runs) AS runs,
                   (SELECT count(*) FROM nightshift.batch_runs WHERE state = 'succeeded' AND finished_at <= deadline) AS on_time,
                   (SELECT count(*) FROM nightshift.state_transitions WHERE job_run_id IS NOT NULL AND to_state = 'running') AS attempts,
                   (SELECT count(*) FROM nightshift.state_transitions WHERE job_run_id IS NOT NULL AND from_state = 'running'
                                                                      AND to_state IN ('failed', 'retrying')) AS errors
            """)
        XCTAssertEqual(counts.int(0, "runs"), 3)
        XCTAssertEqual(counts.int(0, "on_time"), 2)
        let attempts = try XCTUnwrap(counts.int(0, "attempts")), errors = try XCTUnwrap(counts.int(0, "errors"))
        XCTAssertEqual(errors, 2, "the failed aggregation and the deadlocked calculation's first attempt")
        let errorRate = String(format: "%.1f%%", Double(errors) * 100 / Double(attempts))
        XCTAssertTrue(result.stdout.hasPrefix("[NightShift] Operations 2026-11-21 – 2026-11-23: goals missed: Batch success rate, On-time completion, Error rate (failed attempts), Recovery success"),
                      result.stdout)
        XCTAssertTrue(result.stdout.contains("Batch success rate: 66.7% (goal > 95%) — GOAL MISSED"), result.stdout)
        XCTAssertTrue(result.stdout.contains("On-time completion: 66.7% (goal > 90%) — GOAL MISSED"), result.stdout)
        XCTAssertTrue(result.stdout.contains("Error rate (failed attempts): \(errorRate) (goal < 2%) — GOAL MISSED"), result.stdout)
        XCTAssertTrue(result.stdout.contains("Recovery success: 50.0% (goal > 98%) — GOAL MISSED"), result.stdout)

        let base = "\(night.project.root)/var/reports/ops/ops-2026-11-21-2026-11-23"
        let csv = try runProcess(["/usr/bin/python3", "-c", """
            import csv, json, sys
            rows = [r for r in csv.reader(open(sys.argv[1], newline='')) if r]
            kpis = {r[1]: r[3] for r in rows if r[0] == 'kpi'}
            jobs = {r[1]: r for r in rows if r[0] == 'job_duration'}
            print(json.dumps({'kpis': kpis, 'jobs': sorted(jobs)}))
            """, base + ".csv"])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(csv.stdout.utf8)) as? [String: Any])
        let kpis = try XCTUnwrap(parsed["kpis"] as? [String: String])
        XCTAssertEqual(kpis["batch_success_rate"], "66.67")
        XCTAssertEqual(kpis["on_time_completion"], "66.67")
        XCTAssertEqual(kpis["error_rate"], String(format: "%.2f", Double(errors) * 100 / Double(attempts)))
        XCTAssertEqual(kpis["recovery_success"], "50.00")
        XCTAssertGreaterThan(Double(kpis["records_per_hour"] ?? "") ?? 0, 0)
        XCTAssertEqual(parsed["jobs"] as? [String], ["customer_consumption", "daily_delivery_export", "daily_sales_summary", "delivery_charges"])
        let html = try String(contentsOfFile: base + ".html", encoding: .utf8)
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 2, "two charts")
        XCTAssertEqual(html.components(separatedBy: "fill=\"#b42318\"").count - 1, 3, "a failed-run bar for each of the 3 days (zero high on two)")
        let png = "\(night.project.root)/ops.png"
        let rendered = try runProcess(["\(repositoryRoot())/scripts/render-mail", base + ".html", png, "900x900"])
        XCTAssertEqual(rendered.status, 0, rendered.stdout + rendered.stderr)
        XCTAssertGreaterThan((try? Data(contentsOf: URL(fileURLWithPath: png)))?.count ?? 0, 10_000)
    }

    func testSundayMorningMailsTheWeeksReportWithItsCSV() throws {
        try threeNights()
        let server = try LoopbackSMTPServer()
        let credentials = try TemporaryDirectory("nightshift-credentials")
        defer { credentials.remove() }
        try server.writeCredentials(to: credentials.file("smtp.yaml"))
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "mail:\n", with: """
            mail:
              smtp:
                url: \(server.url)
                ca_file: \(server.certificate)
                credentials: \(credentials.file("smtp.yaml"))

            """))
        // Sunday 2026-11-29, across 07:00: the night's mail and the report of 11-22 to 11-28.
        let runner = try night.start(["run", "--at", "2026-11-29T06:58:00+08:00", "--speed", "60", "--until", "2026-11-29T07:04:00+08:00"],
                                     name: "sunday")
        XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
        try night.waitUntil("both mails are sent") {
            try night.scalar("SELECT count(*) FROM nightshift.mail_outbox WHERE kind IN ('night', 'ops_report') AND state = 'sent'") == "2"
        }
        let received = server.waitForMessages(2)
        let file = credentials.file("ops.eml")
        let ops = try XCTUnwrap(received.first { String(decoding: $0.data, as: UTF8.self).contains("filename=\"nightshift-ops-2026-11-22-2026-11-28.csv\"") })
        try ops.data.write(to: URL(fileURLWithPath: file))
        let parsed = try runProcess(["/usr/bin/python3", "-c", """
            import email, email.policy, sys
            m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)
            assert not m.defects, m.defects
            print(m['subject'])
            print(m.get_content_type())
            for part in m.iter_attachments():
                print(part.get_filename())
                sys.stdout.write(part.get_content())
            """, file])
        XCTAssertEqual(parsed.status, 0, parsed.stderr)
        var lines = parsed.stdout.components(separatedBy: "\n")
        XCTAssertTrue(lines[0].hasPrefix("[NightShift] Operations 2026-11-22 – 2026-11-28: goals missed"), lines[0])
        XCTAssertEqual(lines[1], "multipart/mixed")
        XCTAssertEqual(lines[2], "nightshift-ops-2026-11-22-2026-11-28.csv")
        lines.removeFirst(3)
        // The attachment is the CSV `report ops` writes for the same week.
        XCTAssertEqual(try night.cli(["report", "ops", "--from", "2026-11-22", "--to", "2026-11-28"]).status, 0)
        let written = try String(contentsOfFile: "\(night.project.root)/var/reports/ops/ops-2026-11-22-2026-11-28.csv", encoding: .utf8)
        XCTAssertEqual(lines.joined(separator: "\n").replacingOccurrences(of: "\r", with: "").trimmingCharacters(in: .newlines),
                       written.replacingOccurrences(of: "\r", with: "").trimmingCharacters(in: .newlines))
    }
}
