import Foundation
import NightShiftCore
@testable import NightShiftEngine
import PostgresClient
import TestSupport
import XCTest

/// The intake's single pass, called directly against a real database and a real inbox folder:
/// an event file becomes a request and a batch run, a request the runner's own rules refuse is
/// set aside, and a request whose batch run ended is finished. No runner, no loop, no sleeps.
final class IntakeTests: XCTestCase {
    var night: NightFixture!
    var inbox: String { "\(night.project.root)/var/inbox" }
    /// Monday 10:00 in Taipei: business hours.
    let now = Date(timeIntervalSince1970: 1_795_399_200)

    override func setUpWithError() throws { night = try NightFixture(customers: 200, days: 1) }
    override func tearDown() { night?.tearDown() }

    func testAnEventBecomesOneBatchRunARequestThatBreaksTheRunnersRulesIsRefusedAndAnEndedRunFinishesItsRequest() throws {
        XCTAssertEqual(now.iso8601(in: TimeZone(identifier: "Asia/Taipei")!), "2026-11-23T10:00:00+08:00")
        let intake = Intake(context: try night.runnerContext("intake", at: now))
        defer { intake.close() }
        var queued = 0
        intake.onQueued = { queued += 1 }
        try intake.runOnce() // prepares the inbox and starts watching it
        XCTAssertEqual(queued, 0)

        // An event file, written whole and renamed in: taken at the next pass (the rename is seen, no settling).
        let temporary = "\(inbox)/.import.yaml.tmp"
        try "type: data_import_finished\nbusiness_date: 2026-11-22\npriority: P4\nsource: feed-1\n"
            .write(toFile: temporary, atomically: false, encoding: .utf8)
        XCTAssertEqual(rename(temporary, "\(inbox)/import.yaml"), 0)
        try intake.runOnce()
        XCTAssertEqual(try night.scalar("SELECT state FROM nightshift.events"), "processed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(inbox)/processed/import.yaml"))
        let request = try night.db.query("SELECT id, state, requested_by, batch_run_id FROM nightshift.requests")
        XCTAssertEqual(request.rowCount, 1)
        XCTAssertEqual(request.string(0, "state"), "queued")
        XCTAssertEqual(request.string(0, "requested_by"), "event:feed-1")
        let batchRun = try XCTUnwrap(request.int(0, "batch_run_id"))
        XCTAssertEqual(queued, 1, "the dispatcher is woken")
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.batch_runs"), 1)
        try intake.runOnce()
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.batch_runs"), 1, "one event, one batch run, however many passes")

        // A request written straight into the table, past the database's functions, claiming to be
        // an event without naming one: the runner's own check refuses it, with the reason audited.
        let forged = try XCTUnwrap(try night.db.query("""
            INSERT INTO nightshift.requests (source, target, batch, reason, requested_by, host, quota_day, state)
            VALUES ('event', 'batch', 'daily', 'forged', 'mallory', 'h', '2026-11-23', 'accepted') RETURNING id
            """).int(0, 0))
        try intake.runOnce()
        let refused = try night.db.query("SELECT state, state_reason FROM nightshift.requests WHERE id = \(forged)")
        XCTAssertEqual(refused.string(0, "state"), "refused")
        XCTAssertEqual(refused.string(0, "state_reason"), "an event request must name its event's source")
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.audit WHERE request_id = \(forged) AND outcome = 'refused'"), 1)
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.batch_runs"), 1, "no batch run for it")

        // The event's batch run ends: the next pass finishes its request with the outcome.
        try night.db.query("UPDATE nightshift.batch_runs SET state = 'failed', finished_at = clock_timestamp() WHERE id = \(batchRun)")
        try intake.runOnce()
        let finished = try night.db.query("SELECT state, outcome FROM nightshift.requests WHERE batch_run_id = \(batchRun)")
        XCTAssertEqual(finished.string(0, "state"), "finished")
        XCTAssertEqual(finished.string(0, "outcome"), "failed")
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.audit WHERE command = 'finish' AND outcome = 'finished'"), 1)
    }
}
