import Foundation
import NightShiftCore
@testable import NightShiftEngine
import PostgresClient
import TestSupport
import XCTest

/// The heartbeat's single pass, called directly against a real database: it renews the leases of
/// the jobs this runner's workers hold, tells a job whose lease was taken over to stop, passes a
/// pause on, and beats the runner's row.
final class HeartbeatTests: XCTestCase {
    var night: NightFixture!

    override func setUpWithError() throws { night = try NightFixture(customers: 200, days: 1) }
    override func tearDown() { night?.tearDown() }

    func testItRenewsHeldLeasesStopsAJobWhoseLeaseWasTakenAndPassesAPauseOn() throws {
        let context = try night.runnerContext("heart")
        let scheduler = Scheduler(context: context)
        defer { scheduler.close() }
        try scheduler.runOnce()
        XCTAssertNil(try RunnerStore(db: night.db).registerRunner(context.identity, clock: context.clock, workers: 2, mode: "service",
                                                                connections: 1, totalConnections: 100, liveWithinSeconds: 30))
        // Two idle workers that are not started: the claimed jobs wait in their queue, held by this runner.
        let workers = Workers(count: 2, context: context)
        let dispatcher = Dispatcher(context: context, workers: workers, onlyBatchRun: nil)
        defer { dispatcher.close() }
        try dispatcher.runOnce()
        let held = workers.running
        XCTAssertEqual(held.count, 2, "two idle workers, two claims")
        let ids = held.keys.map(\.jobRunID).sorted()
        // Shorten both leases, then beat: both are renewed to lease_seconds from the database's now.
        try night.db.query("UPDATE nightshift.job_runs SET lease_expires_at = clock_timestamp() + interval '1 second' WHERE id = ANY(\(ids)::bigint[])")
        let heartbeat = Heartbeat(context: context, workers: workers, notifier: nil)
        defer { heartbeat.close() }
        try heartbeat.runOnce()
        let leaseSeconds = context.settings.leaseSeconds
        XCTAssertEqual(try night.db.query("""
            SELECT count(*) FROM nightshift.job_runs WHERE id = ANY(\(ids)::bigint[])
              AND lease_expires_at > clock_timestamp() + make_interval(secs => \(leaseSeconds - 5))
            """).int(0, 0), 2, "both leases renewed")
        XCTAssertTrue(held.values.allSatisfy { $0.stopReason == nil })
        let beat = try night.db.query("SELECT state, heartbeat_at > clock_timestamp() - interval '5 seconds' AS fresh FROM nightshift.runners WHERE id = \(context.identity.id)")
        XCTAssertEqual(beat.string(0, "state"), "running")
        XCTAssertEqual(beat.string(0, "fresh"), "t")

        // Another runner took the first job over (its lease expired and was rescued and claimed),
        // and a manager asked to pause the second.
        let (taken, paused) = (ids[0], ids[1])
        try night.db.query("UPDATE nightshift.job_runs SET lease_owner = 'another-runner', attempts = attempts + 1 WHERE id = \(taken)")
        try night.db.query("UPDATE nightshift.job_runs SET pause_requested = 'ops: a manager paused it' WHERE id = \(paused)")
        try heartbeat.runOnce()
        let controls = Dictionary(uniqueKeysWithValues: held.map { ($0.key.jobRunID, $0.value) })
        XCTAssertEqual(controls[taken]?.stopReason, .leaseLost, "a lease held by another runner: write nothing more")
        XCTAssertEqual(controls[paused]?.stopReason, .pause("ops: a manager paused it"))
        XCTAssertEqual(try night.scalar("SELECT lease_owner FROM nightshift.job_runs WHERE id = \(taken)"), "another-runner", "never taken back")

        // Stopping: the runner's row says so.
        heartbeat.stopRequested()
        try heartbeat.runOnce()
        XCTAssertEqual(try night.db.query("SELECT state FROM nightshift.runners WHERE id = \(context.identity.id)").string(0, 0), "stopping")
    }
}
