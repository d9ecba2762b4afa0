import Foundation
import TestSupport
import XCTest

/// `nightshift logs`: each attempt's lines — the runner's, the server's notices from the job's SQL,
/// and its progress — kept in the database with the job run, printed attempt by attempt, and
/// followed live while the job runs.
final class LogsCommandTests: XCTestCase {
    var night: RunnerNight!

    override func tearDown() { night?.tearDown() }

    func testEachAttemptKeepsTheRunnersLinesTheServersNoticesAndItsProgress() throws {
        night = try RunnerNight(slow: false)
        let summary = try night.project.read("sql/jobs/daily_sales_summary.sql")
        try night.project.write("sql/jobs/daily_sales_summary.sql", """
            DO $$ BEGIN RAISE NOTICE 'summing the sales of %', nightshift.business_date(); END $$;
            DO $$ BEGIN RAISE WARNING 'branch 7 sent no deliveries' USING ERRCODE = '01000'; END $$;

            """ + summary)
        try night.project.write("sql/jobs/customer_consumption.sql", "SELECT 1 / 0;\n")
        let run = try night.cli(["run", "--once", "--at", RunnerNight.occurrence])
        XCTAssertEqual(run.status, 1, "customer_consumption fails: " + run.stdout + run.stderr)

        let sales = try night.cli(["logs", "daily_sales_summary"])
        XCTAssertEqual(sales.status, 0, sales.stderr)
        let lines = sales.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("daily_sales_summary · daily batch of 2026-11-22 · job run "), lines[0])
        XCTAssertTrue(lines[0].hasSuffix(" · succeeded · 1 attempt"), lines[0])
        XCTAssertEqual(lines[1], "── attempt 1")
        let timeAndColumns = #"^\d\d:\d\d:\d\d\.\d\d\d  "#
        XCTAssertTrue(lines.dropFirst(2).allSatisfy { $0.range(of: timeAndColumns, options: .regularExpression) != nil }, sales.stdout)
        XCTAssertTrue(lines[2].contains("info     runner    job started"), lines[2])
        XCTAssertTrue(lines.contains { $0.contains("notice   server    NOTICE: summing the sales of 2026-11-22") }, sales.stdout)
        XCTAssertTrue(lines.contains { $0.contains("warning  server    WARNING: branch 7 sent no deliveries [SQLSTATE 01000]") }, sales.stdout)
        XCTAssertTrue(lines.last?.contains("info     runner    attempt 1 ended: succeeded, ") == true, sales.stdout)
        // The night's clock: the job ran just after 02:00 Taipei time.
        XCTAssertTrue(lines[2].hasPrefix("02:0"), lines[2])

        let failed = try night.cli(["logs", "customer_consumption", "--date", "2026-11-22"])
        XCTAssertEqual(failed.status, 0, failed.stderr)
        XCTAssertTrue(failed.stdout.contains(" · failed · 1 attempt"), failed.stdout)
        let end = try XCTUnwrap(failed.stdout.split(separator: "\n").last.map(String.init))
        XCTAssertTrue(end.contains("error    runner    attempt 1 ended: failed: ") && end.contains("22012") && end.contains("division by zero"), end)

        let charges = try night.cli(["logs", "delivery_charges"])
        XCTAssertTrue(charges.stdout.contains("progress  "), charges.stdout)
        XCTAssertTrue(charges.stdout.range(of: #"progress  \d+ rows done"#, options: .regularExpression) != nil, charges.stdout)

        let none = try night.cli(["logs", "customer_consumption", "--attempt", "2"])
        XCTAssertEqual(none.status, 0)
        XCTAssertTrue(none.stdout.hasSuffix("(attempt 2 has no log lines)\n"), none.stdout)
        let unknown = try night.cli(["logs", "no_such_job"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.stderr.contains("no_such_job is not a job (no jobs/no_such_job.yaml)"), unknown.stderr)
        let otherDay = try night.cli(["logs", "daily_sales_summary", "--date", "2026-10-01"])
        XCTAssertEqual(otherDay.status, 1)
        XCTAssertTrue(otherDay.stderr.contains("job daily_sales_summary has no run for business date 2026-10-01"), otherDay.stderr)

        // Kept with the job run: deleting the run (as the history purge does) takes its log along.
        let id = try XCTUnwrap(try night.scalar("SELECT id FROM nightshift.job_runs WHERE job = 'daily_sales_summary'"))
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.job_log WHERE job_run_id = $1", [id]), String(lines.count - 2))
        try night.query("DELETE FROM nightshift.state_transitions WHERE job_run_id = $1", [id])
        try night.query("DELETE FROM nightshift.job_runs WHERE id = $1", [id])
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.job_log WHERE job_run_id = $1", [id]), "0")
    }

    func testFollowPrintsTheLinesWhileTheJobRunsAndEndsWithIt() throws {
        night = try RunnerNight(slow: true)
        let runner = try night.startService(name: "runner")
        try night.waitUntil("delivery_charges runs", timeout: 60) { try night.jobState("delivery_charges") == "running" }
        let follower = try night.start(["logs", "delivery_charges", "--follow"], name: "follow")
        // Its progress reaches the follower while the job still runs (the heartbeat writes every second).
        try night.waitUntil("a progress line is followed", timeout: 60) { follower.logText.contains(" rows done") }
        XCTAssertEqual(try night.jobState("delivery_charges"), "running", "seen live, before the job ended: " + follower.logText)
        XCTAssertEqual(follower.wait(timeout: 120), 0, follower.logText)
        XCTAssertEqual(try night.jobState("delivery_charges"), "succeeded")
        let lines = follower.logText.split(separator: "\n")
        XCTAssertTrue(lines.last?.contains("attempt 1 ended: succeeded, ") == true, follower.logText)
        XCTAssertEqual(lines.filter { $0.contains("job started") }.count, 1, follower.logText)
        XCTAssertEqual(runner.wait(timeout: 240), 0, runner.logText)
    }
}
