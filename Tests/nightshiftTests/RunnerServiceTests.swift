import Foundation
import TestSupport
import XCTest

/// `nightshift run` as a service, with real processes against a real PostgreSQL: the schedule
/// fires by itself, several runners share the work, a killed runner's job is taken over from its
/// checkpoint, SIGTERM releases work at a checkpoint, and a database restart is survived.
final class RunnerServiceTests: XCTestCase {
    var night: RunnerNight!

    override func setUpWithError() throws { night = try RunnerNight() }
    override func tearDown() { night?.tearDown() }

    func testThreeRunnersOneKilledMidJobEveryJobRunsOnceAndResultsEqualOneRunner() throws {
        let runners = try (1...3).map { try night.startService(name: "runner\($0)") }
        // Kill whichever runner holds the calculation, in the middle of it (chunks committed).
        try night.waitUntil("delivery_charges has committed chunks") {
            (Int(try night.scalar("SELECT rows_done::text FROM nightshift.checkpoints WHERE job = 'delivery_charges'") ?? "0") ?? 0) >= 200
        }
        let victim = try XCTUnwrap(try night.holder(of: "delivery_charges"))
        let doneAtKill = Int(try night.scalar("SELECT rows_done::text FROM nightshift.checkpoints WHERE job = 'delivery_charges'") ?? "0")!
        victim.kill(SIGKILL)
        XCTAssertEqual(victim.wait(timeout: 10), 128 + SIGKILL)
        for runner in runners where runner !== victim {
            XCTAssertEqual(runner.wait(timeout: 90), 0, runner.logText)
        }
        try assertCleanNight(night)
        // The job was taken over after the lease expired, and resumed from the checkpoint.
        let steps = try night.query("""
            SELECT t.from_state || '>' || t.to_state AS step, t.reason, t.runner FROM nightshift.state_transitions t
            JOIN nightshift.job_runs j ON j.id = t.job_run_id WHERE j.job = 'delivery_charges' AND t.from_state IS NOT NULL ORDER BY t.id
            """)
        XCTAssertEqual((0..<steps.rowCount).map { steps.string($0, "step")! }, ["pending>running", "running>pending", "pending>running", "running>succeeded"])
        XCTAssertTrue(steps.string(1, "reason")!.contains("lease of ") && steps.string(1, "reason")!.contains(":\(victim.pid):"), steps.string(1, "reason")!)
        XCTAssertFalse(steps.string(3, "runner")!.contains(":\(victim.pid):"), "another runner finished it")
        XCTAssertTrue(try night.scalar("SELECT note FROM nightshift.job_runs WHERE job = 'delivery_charges'")!.contains("resumed after key"))
        XCTAssertGreaterThanOrEqual(doneAtKill, 200)
        // One leader fired the schedule; the other runners saw the occurrence and did not create another.
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.runners"), "3")
    }

    func testSIGTERMReleasesTheJobAtACheckpointAndARestartResumesIt() throws {
        let first = try night.startService(name: "first")
        try night.waitUntil("delivery_charges has committed chunks") {
            (Int(try night.scalar("SELECT rows_done::text FROM nightshift.checkpoints WHERE job = 'delivery_charges'") ?? "0") ?? 0) >= 200
        }
        let signalled = Date()
        first.kill(SIGTERM)
        XCTAssertEqual(first.wait(timeout: 15), 0, first.logText)
        XCTAssertLessThan(Date().timeIntervalSince(signalled), 10, "stops within one checkpoint, well inside 10 s")
        XCTAssertEqual(try night.jobState("delivery_charges"), "pending", "released, not left running")
        XCTAssertTrue(try night.scalar("""
            SELECT reason FROM nightshift.state_transitions t JOIN nightshift.job_runs j ON j.id = t.job_run_id
            WHERE j.job = 'delivery_charges' AND t.to_state = 'pending' AND t.from_state = 'running'
            """)!.contains("the runner is stopping; resumes from its checkpoint"))
        XCTAssertEqual(try night.scalar("SELECT state FROM nightshift.runners"), "stopped")
        let releasedAt = Int(try night.scalar("SELECT rows_done::text FROM nightshift.checkpoints WHERE job = 'delivery_charges'")!)!

        // A new runner (same simulated night) picks it up where it stopped.
        let second = try night.startService(name: "second")
        XCTAssertEqual(second.wait(timeout: 90), 0, second.logText)
        try assertCleanNight(night)
        XCTAssertTrue(try night.scalar("SELECT note FROM nightshift.job_runs WHERE job = 'delivery_charges'")!
            .contains("resumed after key"), "resumed, not redone")
        XCTAssertGreaterThanOrEqual(releasedAt, 200)
    }

    func testASecondSignalExitsAtOnceAndTheWorkIsRescuedLater() throws {
        let first = try night.startService(name: "first")
        try night.waitUntil("customer_consumption or the export runs") {
            try night.jobState("daily_delivery_export") == "running" || night.jobState("customer_consumption") == "running"
        }
        first.kill(SIGTERM)
        Thread.sleep(forTimeInterval: 0.05)
        first.kill(SIGTERM)
        XCTAssertEqual(first.wait(timeout: 5), 143, first.logText)
        let second = try night.startService(name: "second")
        XCTAssertEqual(second.wait(timeout: 90), 0, second.logText)
        try assertCleanNight(night)
    }

    func testStatusShowsProgressWaitingJobsAndRunnersAndHistoryTheNight() throws {
        let runner = try night.startService(name: "runner")
        try night.waitUntil("delivery_charges has committed chunks") {
            (Int(try night.scalar("SELECT rows_done::text FROM nightshift.checkpoints WHERE job = 'delivery_charges'") ?? "0") ?? 0) >= 200
        }
        let status = try night.cli(["status", "--json"])
        XCTAssertEqual(status.status, 0, status.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let running = try XCTUnwrap(json["running"] as? [[String: Any]])
        XCTAssertEqual(running.map { $0["job"] as? String }, ["delivery_charges"])
        XCTAssertGreaterThanOrEqual(running[0]["processed"] as? Int ?? 0, 100)
        XCTAssertLessThanOrEqual(running[0]["progress_age_seconds"] as? Double ?? 99, 5, "at most 5 s stale")
        XCTAssertTrue((running[0]["runner"] as? String ?? "").contains(":\(runner.pid):"))
        let waiting = try XCTUnwrap(json["waiting"] as? [[String: Any]])
        XCTAssertTrue(waiting.contains { $0["job"] as? String == "daily_delivery_export" && ($0["why"] as? String ?? "").contains("waits for delivery_charges (running)") },
                      "\(waiting)")
        let runners = try XCTUnwrap(json["runners"] as? [[String: Any]])
        XCTAssertEqual(runners.count, 1)
        XCTAssertEqual(runners[0]["alive"] as? Bool, true)
        XCTAssertEqual(runners[0]["leader"] as? Bool, true, runner.logText)
        let text = try night.cli(["status"])
        XCTAssertTrue(text.stdout.contains("delivery_charges [P3] daily 2026-11-22, attempt 1"), text.stdout)

        XCTAssertEqual(runner.wait(timeout: 90), 0, runner.logText)
        let history = try night.cli(["history", "--json"])
        let nights = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(history.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(nights.count, 1)
        XCTAssertEqual(nights[0]["state"] as? String, "succeeded")
        XCTAssertEqual(nights[0]["trigger"] as? String, "schedule")
        XCTAssertEqual(nights[0]["scheduled_for"] as? String, "2026-11-23T02:00:00+08:00")
        XCTAssertEqual((nights[0]["jobs"] as? [[String: Any]])?.map { $0["job"] as? String },
                       ["daily_sales_summary", "delivery_charges", "daily_delivery_export", "customer_consumption"])
        let after = try night.cli(["status"])
        XCTAssertTrue(after.stdout.contains("running: nothing") && after.stdout.contains("stopped"), after.stdout)
    }

    func testTwoRunOnceOfTheSameBatchNeverRunItTwice() throws {
        let one = try night.start(["run", "--once", "--at", RunnerNight.occurrence], name: "once1")
        let two = try night.start(["run", "--once", "--at", RunnerNight.occurrence], name: "once2")
        XCTAssertEqual(one.wait(timeout: 90), 0, one.logText)
        XCTAssertEqual(two.wait(timeout: 90), 0, two.logText)
        try assertCleanNight(night)
        let said = one.logText + two.logText
        XCTAssertTrue(said.contains("this occurrence was already running") || said.contains("already ran"), said)
    }

    func testTheDatabaseRestartingMidCalculationAndMidExportIsSurvived() throws {
        guard let cluster = ProcessInfo.processInfo.environment["NIGHTSHIFT_TEST_PG_CLUSTER"] else {
            throw TestSetupError("NIGHTSHIFT_TEST_PG_CLUSTER is not set: run the tests with ./scripts/test, which starts the server it may restart")
        }
        // A slower export (about 6 s), so that the second restart falls in its middle.
        night.tearDown()
        night = try RunnerNight(exportRowDelay: 0.006)
        let pg = "\(repositoryRoot())/scripts/pg"
        func restart() throws {
            XCTAssertEqual(try runProcess([pg, "stop", cluster]).status, 0)
            Thread.sleep(forTimeInterval: 1.5)
            let started = try runProcess([pg, "start", cluster])
            XCTAssertEqual(started.status, 0, started.stderr)
        }
        let runner = try night.startService(name: "runner")
        try night.waitUntil("delivery_charges has committed chunks") {
            (Int(try night.scalar("SELECT rows_done::text FROM nightshift.checkpoints WHERE job = 'delivery_charges'") ?? "0") ?? 0) >= 200
        }
        try restart()
        // The export's query runs about 6 s (its sort waits for every row) before the archive is written.
        try night.waitUntil("the export runs", timeout: 90) { try night.jobState("daily_delivery_export") == "running" }
        Thread.sleep(forTimeInterval: 1)
        try restart()
        XCTAssertEqual(runner.wait(timeout: 120), 0, runner.logText)
        try assertCleanNight(night)
        let retried = try night.query("""
            SELECT j.job FROM nightshift.state_transitions t JOIN nightshift.job_runs j ON j.id = t.job_run_id
            WHERE t.to_state = 'retrying' OR (t.from_state = 'running' AND t.to_state = 'pending') ORDER BY t.id
            """)
        let jobs = Set((0..<retried.rowCount).map { retried.string($0, "job")! })
        XCTAssertTrue(jobs.isSuperset(of: ["delivery_charges", "daily_delivery_export"]), "\(jobs)\n\(runner.logText)")
    }
}
