import Foundation
import PostgresClient
import TestSupport
import XCTest

/// The runner's intake with a real runner process: a request is queued within 2 s by its NOTIFY
/// (polling is slowed to 20 s here, so only the notification can be that fast), waits for its
/// window with the reason shown to the submitter, runs when allowed, and is finished with its
/// outcome; the runner re-checks what a client could bypass; requests awaiting approval expire.
final class RunnerIntakeTests: XCTestCase {
    var night: RunnerNight!
    let me = currentAccount()

    override func setUpWithError() throws {
        night = try RunnerNight(slow: false)
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "poll_milliseconds: 100",
                                                                                      with: "poll_milliseconds: 20000"))
    }

    override func tearDown() { night?.tearDown() }

    /// A Monday inside business hours (P1/P2 may start, P3/P4 wait until 18:00 / 02:00).
    func startRunner() throws -> RunnerProcess {
        try night.start(["run", "--at", "2026-11-23T10:00:00+08:00", "--speed", "10", "--until", "2026-11-23T10:10:00+08:00"], name: "runner")
    }

    func requestState(_ id: Int) throws -> String? { try night.scalar("SELECT state FROM nightshift.requests WHERE id = $1", [String(id)]) }

    func testARequestIsQueuedWithin2sWaitsForItsWindowAndAP1RequestRunsAndFinishes() throws {
        let runner = try startRunner()
        try night.waitUntil("the runner is up") { try night.scalar("SELECT count(*) FROM nightshift.runners WHERE state = 'running'") == "1" }
        Thread.sleep(forTimeInterval: 0.5) // the intake LISTENs

        // The batch at P3 in business hours: queued at once, waiting for 18:00.
        let t0 = Date()
        let submitted = try night.cli(["submit", "daily", "--date", "2026-11-22", "--priority", "P3", "--reason", "re-run after the price fix"])
        XCTAssertEqual(submitted.status, 0, submitted.stderr)
        try night.waitUntil("the request is queued", timeout: 5) { try requestState(1) == "queued" }
        XCTAssertLessThan(Date().timeIntervalSince(t0), 2.0, "queued by the notification, not the 20 s poll")
        try night.waitUntil("its jobs say why they wait", timeout: 10) {
            try night.cli(["requests"]).stdout.contains("waiting: deferred until 2026-11-23T18:00:00+08:00")
        }
        let status = try night.cli(["status"])
        XCTAssertTrue(status.stdout.contains("requests:\n  #1 daily batch for 2026-11-22 at P3 by \(me): queued in batch run #"), status.stdout)
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.job_runs WHERE state <> 'pending'"), "0", "nothing started")

        // A P1 request for one job runs now, alone, and finishes.
        XCTAssertEqual(try night.cli(["submit", "daily_sales_summary", "--date", "2026-11-22", "--priority", "P1", "--reason", "CEO asks"]).status, 0)
        try night.waitUntil("the P1 request finished", timeout: 30) { try requestState(2) == "finished" }
        XCTAssertEqual(try night.scalar("SELECT outcome FROM nightshift.requests WHERE id = 2"), "succeeded")
        XCTAssertEqual(try night.scalar("""
            SELECT string_agg(j.job || ':' || j.priority || ':' || j.state, ',') FROM nightshift.job_runs j
            JOIN nightshift.requests r ON r.batch_run_id = j.batch_run_id WHERE r.id = 2
            """), "daily_sales_summary:1:succeeded")

        // The queued P3 request is cancelled before any job started: its batch run ends cancelled.
        let cancelled = try night.cli(["cancel", "1", "--reason", "the fix is in tonight's run"])
        XCTAssertEqual(cancelled.status, 0, cancelled.stderr)
        XCTAssertEqual(try night.scalar("""
            SELECT b.state || ':' || count(*) FILTER (WHERE j.state = 'skipped') || '/' || count(*) FROM nightshift.batch_runs b
            JOIN nightshift.requests r ON r.batch_run_id = b.id JOIN nightshift.job_runs j ON j.batch_run_id = b.id WHERE r.id = 1
            GROUP BY b.state
            """), "cancelled:4/4")
        XCTAssertEqual(runner.wait(timeout: 90), 0, runner.logText)
        XCTAssertEqual(try night.scalar("SELECT string_agg(outcome, ',' ORDER BY id) FROM nightshift.audit WHERE request_id = 2"),
                       "accepted,queued,finished")
        XCTAssertEqual(try night.scalar("SELECT string_agg(outcome, ',' ORDER BY id) FROM nightshift.audit WHERE request_id = 1"),
                       "accepted,queued,cancelled")
    }

    func testTheRunnerRefusesWhatAClientBypassedAndExpiresUnapprovedRequests() throws {
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "environment: development", with: "environment: production"))
        XCTAssertEqual(try night.cli(["migrate"]).status, 0)
        let db = try night.connect()
        defer { db.close() }
        // Straight into the table, as a superuser can: a non-manager, a request nobody approved, an
        // API request whose key is not configured, and an "event" request that names no event.
        let insert = """
            INSERT INTO nightshift.requests (source, target, batch, reason, requested_by, host, quota_day, state, api_key)
            VALUES ($1, 'batch', 'daily', 'bypass', $2, 'h', current_date, 'accepted', $3)
            """
        try db.execute(insert, ["cli", "mallory", nil])
        try db.execute(insert, ["cli", me, nil])
        try db.execute(insert, ["api", "api:ghost", "ghost"])
        try db.execute(insert, ["event", "mallory", nil])
        // A request awaiting approval for 25 hours.
        XCTAssertEqual(try night.cli(["submit", "daily", "--reason", "old"]).status, 0)
        try db.execute("UPDATE nightshift.requests SET requested_at = requested_at - interval '25 hours' WHERE id = 5")
        let runner = try startRunner()
        try night.waitUntil("the runner decided all five", timeout: 30) {
            try night.scalar("SELECT string_agg(state, ',' ORDER BY id) FROM nightshift.requests") == "refused,refused,refused,refused,expired"
        }
        XCTAssertEqual(try night.scalar("SELECT state_reason FROM nightshift.requests WHERE id = 3"), "the HTTP trigger is not configured (api:)")
        XCTAssertEqual(try night.scalar("SELECT state_reason FROM nightshift.requests WHERE id = 4"), "an event request must name its event's source")
        XCTAssertEqual(try night.scalar("SELECT state_reason FROM nightshift.requests WHERE id = 1"),
                       "mallory is not in etc/operators.yaml; ask an administrator to add the account with its role")
        XCTAssertEqual(try night.scalar("SELECT state_reason FROM nightshift.requests WHERE id = 2"),
                       "production: the request was not approved by a second manager")
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.batch_runs"), "0", "nothing queued")
        XCTAssertEqual(try night.scalar("SELECT string_agg(outcome, ',' ORDER BY id) FROM nightshift.audit WHERE actor LIKE 'runner %'"),
                       "expired,refused,refused,refused,refused")
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 30), 0, runner.logText)
    }
}
