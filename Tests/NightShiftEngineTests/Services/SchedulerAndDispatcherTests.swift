import Foundation
import Logging
import NightShiftCore
@testable import NightShiftEngine
import PostgresClient
import TestSupport
import XCTest

/// The scheduler's and the dispatcher's single passes, called directly against a real database.
final class SchedulerAndDispatcherTests: XCTestCase {
    var night: NightFixture!
    /// Monday 2026-11-23, 02:00:30 in Taipei: the daily batch is due.
    let now = NightFixture.twoAM.addingTimeInterval(30)

    override func setUpWithError() throws {
        night = try NightFixture(customers: 200, days: 1)
    }

    override func tearDown() { night?.tearDown() }

    func context(_ name: String) throws -> RunnerContext { try night.runnerContext(name, at: now) }

    func testOnlyTheLeaderFiresAndAnOccurrenceIsCreatedOnce() throws {
        let first = Scheduler(context: try context("first"))
        let second = Scheduler(context: try context("second"))
        defer { first.close(); second.close() }
        var created = 0
        first.onCreated = { created += 1 }
        try first.runOnce()
        try second.runOnce()
        XCTAssertTrue(first.isLeader)
        XCTAssertFalse(second.isLeader, "the advisory lock elects one leader")
        XCTAssertGreaterThanOrEqual(created, 1)
        let daily = "SELECT count(*) FROM nightshift.batch_runs WHERE batch = 'daily' AND business_date = '2026-11-22'"
        XCTAssertEqual(try night.count(daily), 1)
        try first.runOnce()
        XCTAssertEqual(try night.count(daily), 1, "the cursor moved past it: not fired again")
        first.close()
        try second.runOnce()
        XCTAssertTrue(second.isLeader, "the leader's session ended: the other takes over")
        XCTAssertEqual(try night.count(daily), 1)
    }

    func testTheDispatcherClaimsReadyWorkForItsIdleWorkersUnderALease() throws {
        let context = try context("dispatcher")
        let scheduler = Scheduler(context: context)
        defer { scheduler.close() }
        try scheduler.runOnce()
        let store = RunnerStore(db: night.db)
        XCTAssertNil(try store.registerRunner(context.identity, clock: context.clock, workers: 1, mode: "service", connections: 1,
                                              totalConnections: 100, liveWithinSeconds: 30))
        let workers = Workers(count: 1, context: context)  // not started: a claimed job stays in its queue
        let dispatcher = Dispatcher(context: context, workers: workers, onlyBatchRun: nil)
        defer { dispatcher.close() }
        try dispatcher.runOnce()
        let running = try night.db.query("SELECT job, lease_owner, attempts FROM nightshift.job_runs WHERE state = \(JobState.running)")
        XCTAssertEqual(running.rowCount, 1, "one idle worker, one claim")
        XCTAssertEqual(running.string(0, "lease_owner"), context.identity.id)
        XCTAssertEqual(running.int(0, "attempts"), 1)
        XCTAssertEqual(workers.idleCount, 0)
        try dispatcher.runOnce()
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.job_runs WHERE state = 'running'"), 1, "no idle worker: no claim")
        XCTAssertGreaterThan(try night.count("SELECT count(*) FROM nightshift.job_runs WHERE state = 'pending'"), 0, "the rest wait")
    }
}
