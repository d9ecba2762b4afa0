import Foundation
import TestSupport
import XCTest

/// SIGKILL of a lone runner at six points of a night, then a restart: the night completes with
/// results and decrypted outputs equal to an uninterrupted run, each job succeeded exactly once,
/// nothing is left running and no staged or .partial file is left.
final class RunnerCrashTests: XCTestCase {
    var night: RunnerNight!

    override func setUpWithError() throws { night = try RunnerNight() }

    override func tearDown() { night?.tearDown() }

    func killThenRestart(at point: String, every: TimeInterval = 0.02, file: StaticString = #filePath, line: UInt = #line,
                         _ condition: () throws -> Bool) throws {
        let runner = try night.startService(name: "killed")
        try night.waitUntil(point, every: every, condition)
        runner.kill(SIGKILL)
        XCTAssertEqual(runner.wait(timeout: 10), 128 + SIGKILL, file: file, line: line)
        // The restarted runner finds the occurrence, waits for the dead runner's lease to expire,
        // rescues its job and runs the rest.
        let restarted = try night.start(["run", "--once", "--at", RunnerNight.occurrence], name: "restarted")
        XCTAssertEqual(restarted.wait(timeout: 90), 0, restarted.logText, file: file, line: line)
        try assertCleanNight(night, file: file, line: line)
    }

    func testKilledRightAfterTheOccurrenceWasCreated() throws {
        try killThenRestart(at: "the occurrence exists") { try night.scalar("SELECT count(*) FROM nightshift.batch_runs") == "1" }
    }

    func testKilledRightAfterTheFirstJobSucceeded() throws {
        try killThenRestart(at: "daily_sales_summary succeeded") { try night.jobState("daily_sales_summary") == "succeeded" }
    }

    func testKilledDuringTheCalculation() throws {
        try killThenRestart(at: "delivery_charges has committed chunks") {
            (Int(try night.scalar("SELECT rows_done::text FROM nightshift.checkpoints WHERE job = 'delivery_charges'") ?? "0") ?? 0) >= 300
        }
        XCTAssertTrue(try night.scalar("SELECT note FROM nightshift.job_runs WHERE job = 'delivery_charges'")!.contains("resumed after key"))
    }

    func testKilledDuringTheExport() throws {
        // The archive is written (`.partial`, then its staged name) in the last few milliseconds of
        // the export, after its rows were read: look often.
        try killThenRestart(at: "the export writes its archive", every: 0.001) { night.exportFiles().contains { $0.hasPrefix(".") } }
        XCTAssertEqual(try night.scalar("SELECT attempts::text FROM nightshift.job_runs WHERE job = 'daily_delivery_export'"), "2")
    }

    func testKilledDuringALongAggregation() throws {
        try killThenRestart(at: "customer_consumption runs") { try night.jobState("customer_consumption") == "running" }
    }

    func testKilledAfterTheLastJobBeforeTheBatchIsClosed() throws {
        try killThenRestart(at: "customer_consumption succeeded") { try night.jobState("customer_consumption") == "succeeded" }
    }
}
