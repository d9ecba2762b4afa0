import Foundation
import NightShiftCore
import NightShiftEngine
import TestSupport
import XCTest

/// A job past its `timeout_minutes`, or past its batch's window, is stopped (at a checkpoint or by
/// cancelling its statement), recorded `timed_out`, and its dependents are skipped with the reason.
final class TimeoutTests: XCTestCase {
    var night: NightFixture!

    override func setUpWithError() throws {
        night = try NightFixture(customers: 2000, days: 2)
        var settings = try night.project.read("etc/nightshift.yaml")
        settings += "\nrunner:\n  heartbeat_seconds: 1\n  lease_seconds: 5\n  poll_milliseconds: 100\n"
        try night.project.write("etc/nightshift.yaml", settings)
    }

    override func tearDown() { night?.tearDown() }

    func testAStatementPastTheJobTimeoutIsCancelledAndItsDependentsSkipped() throws {
        // One set-based statement of 30 s; the job may take 1 minute of a clock running 60x (1 s).
        let sql = try night.project.read("sql/jobs/daily_sales_summary.sql")
        try night.project.write("sql/jobs/daily_sales_summary.sql", "SELECT pg_sleep(30);\n" + sql)
        let job = try night.project.read("jobs/daily_sales_summary.yaml")
        try night.project.write("jobs/daily_sales_summary.yaml", job + "timeout_minutes: 1\n")
        let started = Date()
        let report = try night.run(speed: 60)
        XCTAssertLessThan(Date().timeIntervalSince(started), 15, "cancelled, not waited for")
        let byName = Dictionary(uniqueKeysWithValues: report.jobs.map { ($0.job.name, $0) })
        XCTAssertEqual(byName["daily_sales_summary"]?.state, .timedOut)
        XCTAssertTrue(byName["daily_sales_summary"]?.failure?.message.contains("timed out: job timeout of 1 min") == true,
                      "\(String(describing: byName["daily_sales_summary"]?.failure))")
        XCTAssertEqual(byName["daily_delivery_export"]?.state, .skipped)
        XCTAssertEqual(byName["daily_delivery_export"]?.skipReason, "dependency daily_sales_summary timed_out")
        XCTAssertEqual(byName["delivery_charges"]?.state, .succeeded, "independent jobs still run")
        XCTAssertEqual(report.state, .failed)
        let summary = try String(contentsOfFile: try XCTUnwrap(report.summary?.path), encoding: .utf8)
        XCTAssertTrue(summary.contains("Subject:"), summary)
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.state_transitions WHERE to_state = 'timed_out'"), 1)
    }

    func testTheBatchWindowStopsACalculationAtACheckpointAndSkipsWhatDidNotStart() throws {
        // A window of 1 hour on a clock running 3600x: one second of real time.
        var settings = try night.project.read("etc/nightshift.yaml")
        settings += "batches:\n  daily:\n    cron: \"0 2 * * *\"\n    window_hours: 1\n"
        try night.project.write("etc/nightshift.yaml", settings)
        let job = try night.project.read("jobs/delivery_charges.yaml")
        try night.project.write("jobs/delivery_charges.yaml", job.replacingOccurrences(of: "chunk_size: 1000", with: "chunk_size: 50"))
        let stage = try night.project.read("sql/jobs/delivery_charges/stage.sql")
        try night.project.write("sql/jobs/delivery_charges/stage.sql", "SELECT pg_sleep(0.1);\n" + stage)
        let report = try night.run(speed: 3600)
        let byName = Dictionary(uniqueKeysWithValues: report.jobs.map { ($0.job.name, $0) })
        XCTAssertEqual(byName["delivery_charges"]?.state, .timedOut)
        XCTAssertTrue(byName["delivery_charges"]?.failure?.message.contains("batch window ended at 2026-11-23T03:00:00+08:00") == true,
                      "\(String(describing: byName["delivery_charges"]?.failure))")
        // It stopped at a checkpoint: what it committed stays, and the next run resumes there.
        let done = try night.count("SELECT rows_done FROM nightshift.checkpoints WHERE job = 'delivery_charges'")
        XCTAssertGreaterThan(done, 0)
        XCTAssertEqual(try night.count("SELECT count(*) FROM erp.delivery_charges WHERE business_date = '2026-11-22'"), done)
        XCTAssertEqual(byName["daily_delivery_export"]?.state, .skipped)
        XCTAssertEqual(report.state, .failed)
    }
}
