import Foundation
import PostgresClient
import TestSupport
import XCTest

/// `nightshift backfill`: a dry run that shows what it would do to the next night and asks nothing;
/// one request that becomes a batch run per business date, every job at P4, finished when all of
/// them have; the console's dry run says the same.
final class BackfillTests: XCTestCase {
    var night: RunnerNight!
    var port = 0

    override func setUpWithError() throws {
        night = try RunnerNight(slow: false)
        port = try freeLoopbackPort()
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "max_connections: 12", with: "max_connections: 13")
            + "\nconsole:\n  listen: \"127.0.0.1:\(port)\"\n")
        try TestDatabase.person(currentAccount())
    }

    override func tearDown() { night?.tearDown() }

    func testADryRunAsksNothingAndABackfillRunsEachDateAtP4() throws {
        XCTAssertEqual(try night.cli(["migrate"]).status, 0)
        let dry = try night.cli(["backfill", "daily", "--from", "2026-11-20", "--to", "2026-11-21", "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        let lines = dry.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first, "Dry run: nothing was asked.")
        XCTAssertTrue(lines.contains { $0.hasPrefix("Without the backfill its P1–P3 jobs end ") && $0.contains("; with it ") }, dry.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("The backfill: 2 runs (2026-11-20 to 2026-11-21), every job at P4, planned to end ") }, dry.stdout)
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.requests"), "0")

        let future = try night.cli(["backfill", "daily", "--from", "2026-11-20", "--to", "2099-01-01", "--reason", "x"])
        XCTAssertEqual(future.status, 64, "more than 93 dates: \(future.stderr)")
        let backwards = try night.cli(["backfill", "daily", "--from", "2026-11-21", "--to", "2026-11-20", "--reason", "x"])
        XCTAssertEqual(backwards.status, 64)
        XCTAssertTrue(backwards.stderr.contains("--to 2026-11-20 is before --from 2026-11-21"), backwards.stderr)

        let asked = try night.cli(["backfill", "daily", "--from", "2026-11-20", "--to", "2026-11-21", "--reason", "prices corrected"])
        XCTAssertEqual(asked.status, 0, asked.stderr)
        XCTAssertTrue(asked.stdout.contains("the daily batch for 2026-11-20 to 2026-11-21 at P4 (backfill)"), asked.stdout)
        let request = try XCTUnwrap(night.scalar("SELECT id FROM nightshift.requests"))
        XCTAssertEqual(try night.scalar("SELECT business_date || '..' || business_date_to || ' P' || priority FROM nightshift.requests"),
                       "2026-11-20..2026-11-21 P4")

        let runner = try night.start(["run", "--at", RunnerNight.at, "--speed", "600", "--until", "2026-11-23T12:00:00+08:00"], name: "runner")
        try night.waitUntil("the backfill has finished", timeout: 120) {
            try night.scalar("SELECT state FROM nightshift.requests") == "finished"
        }
        let runs = try night.query("""
            SELECT b.business_date::text, b.state, (SELECT string_agg(DISTINCT j.priority::text, ',') FROM nightshift.job_runs j WHERE j.batch_run_id = b.id)
            FROM nightshift.batch_runs b WHERE b.request_id = $1::bigint ORDER BY b.business_date
            """, [request])
        XCTAssertEqual((0..<runs.rowCount).map { r in (0..<3).map { runs.string(r, $0) ?? "" }.joined(separator: " ") },
                       ["2026-11-20 succeeded 4", "2026-11-21 succeeded 4"])
        XCTAssertEqual(try night.scalar("SELECT outcome FROM nightshift.requests"), "succeeded")
        XCTAssertEqual(try night.scalar("SELECT detail FROM nightshift.audit WHERE command = 'finish'"),
                       "2 batch runs from #\(try XCTUnwrap(night.scalar("SELECT min(id) FROM nightshift.batch_runs WHERE request_id = $1::bigint", [request]))): succeeded")

        // The console's dry run says what the command says; its requests page shows the range.
        let page = try runProcess(["curl", "-s", "http://127.0.0.1:\(port)/backfill?batch=daily&from=2026-11-18&to=2026-11-19"])
        XCTAssertTrue(page.stdout.contains("The backfill: 2 runs (2026-11-18 to 2026-11-19), every job at P4"), page.stdout)
        XCTAssertTrue(page.stdout.contains("Sign in (<code>nightshift console login</code>) to request it"), "no session: no form")
        let requests = try runProcess(["curl", "-s", "http://127.0.0.1:\(port)/requests"])
        XCTAssertTrue(requests.stdout.contains("daily batch for 2026-11-20 to 2026-11-21 (backfill) at P4"), requests.stdout)
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
    }
}
