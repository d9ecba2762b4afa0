import Foundation
import PostgresClient
import TestSupport
import XCTest

/// A calculation's checks run before it is done: with sound figures they pass; a figure that does
/// not reconcile fails the job, naming the check and showing the figures, and its dependents are
/// skipped.
final class CalculationChecksTests: XCTestCase {
    var night: RunnerNight!

    override func setUpWithError() throws { night = try RunnerNight(slow: false) }
    override func tearDown() { night?.tearDown() }

    func testSoundFiguresPassEveryCheck() throws {
        let run = try night.cli(["run", "--once", "--at", RunnerNight.occurrence])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertEqual(try night.jobState("delivery_charges"), "succeeded")
    }

    func testAFigureThatDoesNotReconcileFailsTheJobNamingTheCheck() throws {
        // One charge's VAT is written negative after the chunk is applied.
        let first = try XCTUnwrap(try night.scalar("""
            SELECT min(id)::text FROM erp.deliveries WHERE delivery_date = '2026-11-22' AND status = 'delivered'
            """))
        let apply = try night.project.read("sql/jobs/delivery_charges/apply.sql")
        try night.project.write("sql/jobs/delivery_charges/apply.sql",
                                apply + ";\nUPDATE erp.delivery_charges SET vat = -vat WHERE delivery_id = \(first) AND vat > 0;\n")
        let run = try night.cli(["run", "--once", "--at", RunnerNight.occurrence])
        XCTAssertEqual(run.status, 1, run.stdout)
        XCTAssertEqual(try night.jobState("delivery_charges"), "failed")
        let message = try XCTUnwrap(try night.scalar("SELECT error_message FROM nightshift.job_runs WHERE job = 'delivery_charges'"))
        XCTAssertTrue(message.hasPrefix("check `totals reconcile, nothing negative` failed: "), message)
        XCTAssertTrue(message.contains("negative_rows = 1"), message)
        let delivered = try XCTUnwrap(try night.scalar("""
            SELECT sum(amount)::text FROM erp.deliveries WHERE delivery_date = '2026-11-22' AND status = 'delivered'
            """))
        XCTAssertTrue(message.contains("delivered_amount = \(delivered)"), message)
        XCTAssertEqual(try night.jobState("daily_delivery_export"), "skipped", "no export of figures that do not reconcile")
    }
}
