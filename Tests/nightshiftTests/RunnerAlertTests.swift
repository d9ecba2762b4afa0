import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Immediate alerts to the on-call list, one per incident, mailed through a real SMTP server:
/// a window that will be missed (said before it happens), a P2 job past its start deadline, a P1
/// job that failed, a runner that lost its lease, and an outbox that backs up.
final class RunnerAlertTests: XCTestCase {
    var night: RunnerNight!

    override func tearDown() { night?.tearDown() }

    private func configure(smtp: LoopbackSMTPServer?, credentials: String?, extraMail: String = "") throws {
        let settings = try night.project.read("etc/nightshift.yaml")
        var mail = """
            mail:
              from: "NightShift <nightshift@luckygas.test>"
              to: [ops@luckygas.test]
              on_call: ["值班 <oncall@luckygas.test>"]
            \(extraMail)
            """
        if let smtp, let credentials {
            mail += """

                  smtp:
                    url: \(smtp.url)
                    ca_file: \(smtp.certificate)
                    credentials: \(credentials)
                """
        }
        let start = try XCTUnwrap(settings.range(of: "mail:\n"))
        let end = try XCTUnwrap(settings.range(of: "limits:\n"))
        try night.project.write("etc/nightshift.yaml", settings.replacingCharacters(in: start.lowerBound..<end.lowerBound, with: mail + "\n"))
    }

    private func alerts() throws -> [(kind: String, subject: String, at: String)] {
        let rows = try night.query("SELECT kind, subject, to_char(raised_at AT TIME ZONE 'Asia/Taipei', 'HH24:MI') AS at FROM nightshift.alerts ORDER BY id")
        return (0..<rows.rowCount).map { (rows.string($0, "kind")!, rows.string($0, "subject")!, rows.string($0, "at")!) }
    }

    func testAMissedWindowIsSaidBeforeItHappensAndLateP2AndFailedP1JobsAreAlertedOnce() throws {
        night = try RunnerNight(slow: true)
        let server = try LoopbackSMTPServer()
        let credentials = try TemporaryDirectory("nightshift-credentials")
        defer { credentials.remove() }
        try server.writeCredentials(to: credentials.file("smtp.yaml"))
        try configure(smtp: server, credentials: credentials.file("smtp.yaml"))
        // A one-hour window, and a calculation expected (no history yet) to take two hours.
        var settings = try night.project.read("etc/nightshift.yaml")
        settings += "\nbatches:\n  daily:\n    window_hours: 1\n"
        try night.project.write("etc/nightshift.yaml", settings)
        let charges = try night.project.read("jobs/delivery_charges.yaml")
        try night.project.write("jobs/delivery_charges.yaml", charges.replacingOccurrences(of: "estimate_minutes: ", with: "estimate_minutes: 120 #"))
        // The P2 job waits for the (slow) calculation, past a one-minute start deadline.
        let sales = try night.project.read("jobs/daily_sales_summary.yaml")
        XCTAssertTrue(sales.contains("depends_on: []") || !sales.contains("depends_on"), sales)
        try night.project.write("jobs/daily_sales_summary.yaml", sales.replacingOccurrences(of: "depends_on: []", with: "")
            + "\ndepends_on: [delivery_charges]\n")
        let windows = try night.project.read("etc/windows.yaml")
        try night.project.write("etc/windows.yaml", windows.replacingOccurrences(of: "high_start_deadline_minutes: 60", with: "high_start_deadline_minutes: 1"))
        // A P1 job that fails for good (after its retries: alerted once, not per retry).
        let consumption = try night.project.read("jobs/customer_consumption.yaml")
        try night.project.write("jobs/customer_consumption.yaml", consumption.replacingOccurrences(of: "priority: P4", with: "priority: P1"))
        try night.project.write("sql/jobs/customer_consumption.sql", "SELECT 1 / 0;\n")
        let check = try night.cli(["check"])
        XCTAssertEqual(check.status, 0, check.stdout + check.stderr)

        let runner = try night.start(["run", "--at", RunnerNight.at, "--speed", "60", "--until", "2026-11-23T02:12:00+08:00"], name: "alerts")
        XCTAssertEqual(runner.wait(timeout: 120), 0, runner.logText)
        try night.waitUntil("the alerts are mailed") {
            try night.scalar("SELECT count(*) FROM nightshift.mail_outbox WHERE kind = 'alert' AND state <> 'sent'") == "0"
        }
        let raised = try alerts()
        let kinds = raised.map(\.kind)
        XCTAssertEqual(Set(kinds), ["window_miss", "late_start", "p1_failed"], "\(raised)")
        XCTAssertEqual(kinds.count, 3, "one alert per incident: \(raised)")
        let miss = try XCTUnwrap(raised.first { $0.kind == "window_miss" })
        XCTAssertTrue(miss.subject.hasPrefix("the daily batch (2026-11-22) will miss its window: likely done 2026-11-23 0") && miss.subject.hasSuffix("window ends 2026-11-23 03:00"), miss.subject)
        XCTAssertLessThan(miss.at, "02:05", "said at the start, long before the window ends at 03:00")
        let late = try XCTUnwrap(raised.first { $0.kind == "late_start" })
        XCTAssertTrue(late.subject.hasPrefix("P2 job daily_sales_summary has not started") && late.subject.contains("after its start deadline"), late.subject)
        let failed = try XCTUnwrap(raised.first { $0.kind == "p1_failed" })
        XCTAssertEqual(failed.subject, "P1 job customer_consumption FAILED (daily 2026-11-22)")
        XCTAssertEqual(try night.scalar("SELECT attempts FROM nightshift.job_runs WHERE job = 'customer_consumption'"), "1",
                       "22012 division by zero is permanent")

        // Mailed to the on-call list only, each once, readable by a standard parser.
        let received = server.received()
        XCTAssertEqual(received.count, 3)
        XCTAssertTrue(received.allSatisfy { $0.to == ["oncall@luckygas.test"] })
        let subjects = try received.map { message -> String in
            let file = credentials.file("alert.eml")
            try message.data.write(to: URL(fileURLWithPath: file))
            let parsed = try runProcess(["/usr/bin/python3", "-c", """
                import email, email.policy, sys
                m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)
                assert not m.defects, m.defects
                print(m['subject']); print(m['to']); print(m.get_body(('plain',)).get_content())
                """, file])
            XCTAssertEqual(parsed.status, 0, parsed.stderr)
            XCTAssertTrue(parsed.stdout.contains("值班 <oncall@luckygas.test>") && parsed.stdout.contains("What to do: "), parsed.stdout)
            return parsed.stdout.components(separatedBy: "\n")[0]
        }
        XCTAssertEqual(Set(subjects), Set(raised.map { "[NightShift ALERT] \($0.subject)" }))
        let status = try night.cli(["status"])
        XCTAssertTrue(status.stdout.contains("alerts (last 24 h):") && status.stdout.contains("P1 job customer_consumption FAILED"), status.stdout)
    }

    func testALostLeaseAndAnOutboxThatBacksUpAreAlertedOnce() throws {
        night = try RunnerNight(slow: true)
        // No SMTP server: mail waits, and after a minute that is an incident too.
        try configure(smtp: nil, credentials: nil, extraMail: "  outbox_alert_minutes: 1\n  batches:\n    daily: {own_mail: true}")
        let first = try night.start(["run", "--at", RunnerNight.at, "--speed", "60", "--until", "2026-11-23T03:00:00+08:00"], name: "first")
        try night.waitUntil("the calculation runs") { try night.jobState("delivery_charges") == "running" }
        first.kill(SIGKILL)
        let second = try night.start(["run", "--at", "2026-11-23T02:02:00+08:00", "--speed", "60", "--until", "2026-11-23T02:20:00+08:00"],
                                     name: "second")
        XCTAssertEqual(second.wait(timeout: 120), 0, second.logText)
        XCTAssertEqual(try night.scalar("SELECT state FROM nightshift.batch_runs"), "succeeded", second.logText)
        let raised = try alerts()
        let lost = raised.filter { $0.kind == "lease_lost" }
        XCTAssertEqual(lost.count, 1, "\(raised)")
        XCTAssertTrue(lost.first?.subject.hasPrefix("runner ") == true && lost.first?.subject.contains("lost its lease on delivery_charges") == true, "\(raised)")
        XCTAssertTrue(try night.scalar("SELECT detail FROM nightshift.alerts WHERE kind = 'lease_lost'")!.contains("resumes from its last checkpoint"))
        let backlog = raised.filter { $0.kind == "outbox_backlog" }
        XCTAssertEqual(backlog.count, 1, "one incident while the outbox backs up: \(raised)")
        XCTAssertTrue(try night.scalar("SELECT detail FROM nightshift.alerts WHERE kind = 'outbox_backlog'")!.contains("daily batch 2026-11-22"))
        // The alerts themselves wait in the outbox too (to the on-call list), one per incident.
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.mail_outbox WHERE kind = 'alert'"), String(raised.count))
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.alerts WHERE mail_id IS NULL"), "0")
    }
}
