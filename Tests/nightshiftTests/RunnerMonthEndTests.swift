import Foundation
import PostgresClient
import TestSupport
import XCTest

/// The monthly batch waits for the month-end close: held (status says for what) until a
/// month_end_close_done event for its month is processed, or the configured check returns true.
final class RunnerMonthEndTests: XCTestCase {
    var night: RunnerNight!

    override func setUpWithError() throws {
        night = try RunnerNight(slow: false, seedUntil: "2026-11-30")
        try night.project.write("etc/nightshift.yaml", try night.project.read("etc/nightshift.yaml") + """

            batches:
              monthly:
                cron: "0 0 1 * *"
                window_hours: 2
                priority: P2
            """)
        try night.project.write("jobs/monthly_rollup.yaml", """
            name: monthly_rollup
            kind: aggregation
            batch: monthly
            priority: P2
            estimate_minutes: 1
            aggregation:
              sql: jobs/monthly_rollup.sql
            """)
        try night.project.write("sql/jobs/monthly_rollup.sql", "SELECT pg_sleep(0.2)")
    }

    override func tearDown() { night?.tearDown() }

    func monthly() throws -> (state: String?, waitingFor: String?) {
        let row = try night.query("SELECT b.state, b.waiting_for FROM nightshift.batch_runs b WHERE batch = 'monthly'")
        return (row.string(0, "state"), row.string(0, "waiting_for"))
    }

    func testTheMonthlyBatchWaitsForTheCloseEventAndStatusSaysSo() throws {
        let plan = try night.cli(["plan", "--at", "2026-12-01T00:00:00+08:00", "--batch", "monthly"])
        XCTAssertTrue(plan.stdout.contains("warning: the monthly batch starts only once its month is closed"), plan.stdout + plan.stderr)
        let runner = try night.start(["run", "--at", "2026-11-30T23:59:50+08:00", "--speed", "60", "--until", "2026-12-01T01:00:00+08:00"],
                                     name: "runner")
        try night.waitUntil("the monthly occurrence exists") { try monthly().state != nil }
        Thread.sleep(forTimeInterval: 1) // several dispatcher passes: it must not start
        XCTAssertEqual(try night.jobState("monthly_rollup"), "pending")
        XCTAssertEqual(try monthly().waitingFor, "the month-end close of 2026-11: a month_end_close_done event for 2026-11 in the inbox")
        let status = try night.cli(["status"])
        XCTAssertTrue(status.stdout.contains("monthly_rollup [P2] monthly (pending): the batch waits for the month-end close of 2026-11"),
                      status.stdout)
        // Finance closes the month.
        let inbox = "\(night.project.root)/var/inbox"
        try "type: month_end_close_done\nbusiness_date: 2026-11-30\npriority: P2\nsource: erp-finance\n"
            .write(toFile: "\(inbox)/.close.tmp", atomically: false, encoding: .utf8)
        XCTAssertEqual(rename("\(inbox)/.close.tmp", "\(inbox)/close.yaml"), 0)
        try night.waitUntil("the monthly job succeeded", timeout: 30) { try night.jobState("monthly_rollup") == "succeeded" }
        XCTAssertNil(try monthly().waitingFor)
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.requests"), "0", "the close event releases; it runs nothing itself")
        XCTAssertTrue(try night.scalar("""
            SELECT reason FROM nightshift.state_transitions WHERE batch_run_id = (SELECT id FROM nightshift.batch_runs WHERE batch = 'monthly')
              AND reason LIKE 'released:%'
            """)?.hasPrefix("released: month-end close event #1 from erp-finance") == true)
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 30), 0, runner.logText)
    }

    func testTheConfiguredCheckReleasesItWhenTheDataSaysTheMonthIsClosed() throws {
        try night.project.write("sql/checks/closed_when_flagged.sql", """
            SELECT EXISTS (SELECT 1 FROM public.month_closed WHERE month = date_trunc('month', nightshift.business_date())::date)
            """)
        try night.project.write("etc/nightshift.yaml", try night.project.read("etc/nightshift.yaml")
            + "\nmonth_end_close:\n  wait: true\n  check: checks/closed_when_flagged.sql\n")
        let db = try night.connect()
        defer { db.close() }
        try db.execute("CREATE TABLE public.month_closed (month date PRIMARY KEY)")
        let runner = try night.start(["run", "--at", "2026-11-30T23:59:50+08:00", "--speed", "60", "--until", "2026-12-01T01:00:00+08:00"],
                                     name: "runner")
        try night.waitUntil("the monthly occurrence exists") { try monthly().state != nil }
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(try night.jobState("monthly_rollup"), "pending")
        XCTAssertTrue(try monthly().waitingFor?.hasSuffix(", or sql/checks/closed_when_flagged.sql returning true") == true)
        try db.execute("INSERT INTO public.month_closed VALUES ('2026-11-01')")
        try night.waitUntil("the monthly job succeeded", timeout: 30) { try night.jobState("monthly_rollup") == "succeeded" }
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 30), 0, runner.logText)
    }
}
