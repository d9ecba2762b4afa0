import Foundation
import PostgresClient
import TestSupport
import XCTest

/// States read back from the database never crash a command or the service: a cancelled batch run
/// is shown everywhere, a state no enum knows is named (table, row, column, value) and left alone
/// while the service carries on, and deferred lower-priority batches never hold a P1 job back.
final class RunnerStatesTests: XCTestCase {
    var night: RunnerNight!
    let me = currentAccount()

    override func setUpWithError() throws {
        night = try RunnerNight(slow: false)
    }

    override func tearDown() { night?.tearDown() }

    /// The plain text of a kept `.eml` copy, decoded by Python's email package.
    func mailText(_ name: String) throws -> String {
        let parsed = try runProcess(["/usr/bin/python3", "-c", """
            import email, sys
            from email import policy
            m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
            print(m['Subject']); print(m.get_body(('plain',)).get_content())
            """, "\(night.project.root)/var/outbox/\(name)"])
        XCTAssertEqual(parsed.status, 0, parsed.stderr)
        return parsed.stdout
    }

    func testACancelledRequestBreaksNoCommandAndNotTheServiceAtMailMorning() throws {
        // A Monday in business hours: the P3 request is queued and deferred, then cancelled.
        let runner = try night.start(["run", "--at", "2026-11-23T10:00:00+08:00", "--speed", "10", "--until", "2026-11-23T10:02:00+08:00"],
                                     name: "day")
        try night.waitUntil("the runner is up") { try night.scalar("SELECT count(*) FROM nightshift.runners WHERE state = 'running'") == "1" }
        let submitted = try night.cli(["submit", "daily", "--date", "2026-11-22", "--priority", "P3", "--reason", "re-run after the price fix"])
        XCTAssertEqual(submitted.status, 0, submitted.stderr)
        try night.waitUntil("the request is queued", timeout: 30) { try night.scalar("SELECT state FROM nightshift.requests WHERE id = 1") == "queued" }
        let cancelled = try night.cli(["cancel", "1", "--reason", "the fix is in tonight's run"])
        XCTAssertEqual(cancelled.status, 0, cancelled.stderr)
        XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
        XCTAssertEqual(try night.scalar("SELECT state FROM nightshift.batch_runs"), "cancelled")

        let history = try night.cli(["history"])
        XCTAssertEqual(history.status, 0, history.stderr)
        XCTAssertTrue(history.stdout.contains("CANCELLED (request #1 cancelled by \(me))"), history.stdout)
        let json = try night.cli(["history", "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertTrue(json.stdout.contains("\"state\" : \"cancelled\""), json.stdout)
        let status = try night.cli(["status"])
        XCTAssertEqual(status.status, 0, status.stdout + status.stderr)
        XCTAssertTrue(status.stdout.contains("#1 daily batch for 2026-11-22 at P3") == false, "a cancelled request is not open: \(status.stdout)")

        // The operations report counts it apart: neither a success nor a failure.
        let ops = try night.cli(["report", "ops", "--from", "2026-11-23", "--to", "2026-11-23"])
        XCTAssertEqual(ops.status, 0, ops.stderr)
        XCTAssertTrue(ops.stdout.contains("0 batch runs ended (1 more cancelled before they started, counted as neither a success nor a failure)"),
                      ops.stdout)
        let csv = try String(contentsOfFile: "\(night.project.root)/var/reports/ops/ops-2026-11-23-2026-11-23.csv", encoding: .utf8)
        XCTAssertTrue(csv.contains("count,batches_cancelled,Batch runs cancelled (neither a success nor a failure),1,,,0\r\n"), csv)

        // The next morning the service passes mail.morning and writes the night's mail, which lists it.
        let morning = try night.start(["run", "--at", "2026-11-24T06:58:00+08:00", "--speed", "60", "--until", "2026-11-24T07:03:00+08:00"],
                                      name: "morning")
        XCTAssertEqual(morning.wait(timeout: 120), 0, morning.logText)
        XCTAssertFalse(morning.logText.contains("cannot be read"), morning.logText)
        let text = try mailText("night-2026-11-24.eml")
        XCTAssertTrue(text.contains("Cancelled:   daily batch for 2026-11-22 (batch run #1): request #1 cancelled by \(me)"), text)
        XCTAssertTrue(text.contains("== daily batch for business date 2026-11-22: CANCELLED: request #1 cancelled by \(me)"), text)
    }

    func testAStateNoEnumKnowsIsNamedByEveryCommandAndTheServiceCarriesOn() throws {
        let run = try night.cli(["run", "--once", "--at", RunnerNight.occurrence])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let db = try night.connect()
        defer { db.close() }
        // Another version (or a person) wrote a state this one does not know.
        try db.execute("ALTER TABLE nightshift.batch_runs DROP CONSTRAINT batch_runs_state_check")
        try db.execute("UPDATE nightshift.batch_runs SET state = 'on_hold' WHERE id = 1")
        let named = "nightshift.batch_runs row 1: state holds 'on_hold', which this NightShift cannot read (expected one of running, succeeded, failed, cancelled)"

        let history = try night.cli(["history"])
        XCTAssertEqual(history.status, 1, history.stdout + history.stderr)
        XCTAssertTrue(history.stderr.contains("error: " + named), history.stderr)
        XCTAssertFalse(history.stderr.contains("Fatal error") || history.stderr.contains("Illegal instruction"), history.stderr)
        let status = try night.cli(["status"])
        XCTAssertEqual(status.status, 1, status.stdout + status.stderr)
        XCTAssertTrue(status.stdout.contains("needs a look:\n"), status.stdout)
        XCTAssertTrue(status.stdout.contains("nightshift.batch_runs row 1: state holds 'on_hold'"), status.stdout)

        // The service runs a P1 request and passes mail.morning, meeting the row once.
        let submitted = try night.cli(["submit", "daily_sales_summary", "--date", "2026-11-22", "--priority", "P1", "--reason", "CEO asks"])
        XCTAssertEqual(submitted.status, 0, submitted.stderr)
        let runner = try night.start(["run", "--at", "2026-11-23T06:58:00+08:00", "--speed", "10", "--until", "2026-11-23T07:01:00+08:00"],
                                     name: "service")
        try night.waitUntil("the P1 request ran", timeout: 60) { try night.scalar("SELECT outcome FROM nightshift.requests WHERE id = 1") == "succeeded" }
        XCTAssertEqual(runner.wait(timeout: 90), 0, runner.logText)
        XCTAssertEqual(runner.logText.components(separatedBy: "a row cannot be read").count - 1, 1, "logged once: \(runner.logText)")
        let text = try mailText("night-2026-11-23.eml")
        XCTAssertTrue(text.contains("Needs a look: nightshift.batch_runs row 1 cannot be read, so it is not in this mail"), text)
        XCTAssertEqual(try night.scalar("SELECT state FROM nightshift.batch_runs WHERE id = 1"), "on_hold", "left alone")
    }

    /// 10:00 on a workday: two requests through the HTTP trigger (their jobs' own priorities, the P3
    /// ones deferred to 18:00 by business hours), then an event file asks for one job at P1. It runs
    /// at once: deferred batches take no place in limits.max_concurrent_batches.
    func testTwoDeferredRequestsDoNotHoldBackAP1Job() throws {
        let port = Int.random(in: 20_000...60_000)
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "max_connections: 12", with: "max_connections: 13")
            + "\napi:\n  listen: \"127.0.0.1:\(port)\"\n")
        let added = try night.cli(["api-key", "add", "erp", "--batches", "daily"])
        XCTAssertEqual(added.status, 0, added.stderr)
        let key = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let inbox = "\(night.project.root)/var/inbox"
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        let runner = try night.start(["run", "--at", "2026-11-23T10:00:00+08:00", "--speed", "10", "--until", "2026-11-23T10:20:00+08:00"],
                                     name: "runner")
        try night.waitUntil("the trigger listens") { runner.logText.contains("HTTP trigger listening") }
        for reason in ["import A re-run", "import B re-run"] {
            let post = try runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                                       "http://127.0.0.1:\(port)/api/v1/batches/daily/runs", "-H", "Authorization: Bearer \(key)",
                                       "-H", "Content-Type: application/json", "--data-binary", "{\"reason\": \"\(reason)\"}"])
            XCTAssertEqual(post.stdout, "202", post.stderr)
        }
        // Each batch's P2 job ran (so both have started work); their P3 work is deferred to 18:00.
        try night.waitUntil("both requests are queued, their P2 job done and their P3 work deferred", timeout: 60) {
            try night.scalar("SELECT count(*) FROM nightshift.requests WHERE state = 'queued'") == "2"
                && night.scalar("SELECT count(*) FROM nightshift.job_runs WHERE job = 'daily_sales_summary' AND state = 'succeeded'") == "2"
                && night.scalar("SELECT count(*) FROM nightshift.job_runs WHERE job = 'delivery_charges' AND wait_reason LIKE 'deferred until %18:00%'") == "2"
        }
        let event = "type: data_import_finished\nbusiness_date: 2026-11-22\npriority: P1\nsource: erp-import\njob: daily_sales_summary\n"
        try event.write(toFile: "\(inbox)/.p1.tmp", atomically: false, encoding: .utf8)
        XCTAssertEqual(rename("\(inbox)/.p1.tmp", "\(inbox)/p1.yaml"), 0)
        try night.waitUntil("the P1 job ran", timeout: 30) {
            try night.scalar("SELECT outcome FROM nightshift.requests WHERE source = 'event'") == "succeeded"
        }
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.job_runs WHERE wait_reason LIKE '%max_concurrent_batches%'"), "0")
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.job_runs WHERE priority = 3 AND state <> 'pending'"), "0",
                       "the deferred P3 work still waits for its window")
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
    }
}
