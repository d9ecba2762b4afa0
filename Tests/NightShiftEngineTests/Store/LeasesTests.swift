import Foundation
import NightShiftCore
@testable import NightShiftEngine
import PostgresClient
import TestSupport
import XCTest

/// The lease and its fence against a real server, one store call at a time (no runner, no sleeps):
/// a claim, writes fenced by owner and attempt, rescue decided by Core's retry rule, and
/// transitions refused when the state machine does not allow them.
final class LeasesTests: XCTestCase {
    var database: TestDatabase!
    var db: PostgresConnection!
    var store: RunnerStore!
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    override func setUpWithError() throws {
        database = try TestDatabase()
        db = try database.connect()
        try Migrator(set: "runner", directory: "\(repositoryRoot())/sql/runner").apply(on: db)
        store = RunnerStore(db: db)
    }

    override func tearDown() {
        db?.close()
        database?.drop()
    }

    /// One batch run with one job allowing `retries`, claimed by `owner`.
    func claimed(retries: Int, owner: String = "runner-a") throws -> RunnerStore.ClaimedJob {
        let job = JobDefinition(name: "daily_sales_summary", description: "", kind: .aggregation, batch: .daily, priority: .p1,
                                dependsOn: [], estimateSeconds: 60, retries: retries, action: .aggregation(sql: "x.sql"))
        let new = RunnerStore.NewBatchRun(batch: .daily, scheduledFor: now, deadline: now.addingTimeInterval(3600),
                                          businessDate: LocalDate(iso: "2026-11-22")!, trigger: "test", jobs: [job], skipped: [:], warnings: [])
        guard case let .created(batchRun) = try store.createBatchRun(new, now: now, runner: owner) else { throw TestSetupError("not created") }
        let snapshot = try store.dispatchSnapshot(now: now, onlyBatchRun: batchRun, leaseSeconds: 30)
        let claims = try store.claim(snapshot.queued, lateBy: [:], from: snapshot.states, owner: owner, now: now, leaseSeconds: 30)
        return try XCTUnwrap(claims.first)
    }

    func state(_ id: Int) throws -> String? {
        try db.query("SELECT state FROM nightshift.job_runs WHERE id = \(id)").string(0, "state")
    }

    func transitions(_ id: Int) throws -> [String] {
        let rows = try db.query("SELECT coalesce(from_state, '-') || '>' || to_state AS t FROM nightshift.state_transitions WHERE job_run_id = \(id) ORDER BY id")
        return (0..<rows.rowCount).map { rows.string($0, "t")! }
    }

    func testOnlyTheOwnerAndAttemptThatHoldTheLeaseMayWrite() throws {
        let job = try claimed(retries: 2)
        XCTAssertEqual(job.attempt, 1)
        let stranger = Lease(jobRunID: job.jobRunID, owner: "runner-b", attempt: 1)
        let older = Lease(jobRunID: job.jobRunID, owner: job.owner, attempt: 0)
        for lease in [stranger, older] {
            XCTAssertThrowsError(try store.leaveRunning(lease, batchRunID: job.batchRunID, to: .succeeded, reason: "x", now: now)) {
                XCTAssertTrue($0 is LeaseLost, "\($0)")
            }
            XCTAssertThrowsError(try store.whileLeased(lease) { }) { XCTAssertTrue($0 is LeaseLost, "\($0)") }
        }
        XCTAssertEqual(try store.renewLeases(owner: "runner-b", leases: [stranger.key], leaseSeconds: 30, progress: [:]).count, 0)
        let held = try store.renewLeases(owner: job.owner, leases: [job.lease.key], leaseSeconds: 30, progress: [job.lease.key: 500])
        XCTAssertEqual(held.keys.map(\.jobRunID), [job.jobRunID])
        XCTAssertEqual(try db.query("SELECT progress_rows FROM nightshift.job_runs WHERE id = \(job.jobRunID)").int(0, 0), 500)

        try store.leaveRunning(job.lease, batchRunID: job.batchRunID, to: .succeeded, reason: "done", now: now,
                               update: .init(rows: 500, note: "a note"))
        XCTAssertEqual(try state(job.jobRunID), "succeeded")
        XCTAssertEqual(try transitions(job.jobRunID), ["->pending", "pending>running", "running>succeeded"])
        // Once it has left running, the same lease writes nothing more.
        XCTAssertThrowsError(try store.leaveRunning(job.lease, batchRunID: job.batchRunID, to: .failed, reason: "x", now: now))
    }

    func testAnIllegalMoveIsRefusedAndNothingIsWritten() throws {
        let job = try claimed(retries: 0)
        XCTAssertThrowsError(try store.leaveRunning(job.lease, batchRunID: job.batchRunID, to: .skipped, reason: "x", now: now)) { error in
            XCTAssertTrue("\(error)".contains("illegal job transition running → skipped: refused, nothing was written"), "\(error)")
        }
        XCTAssertEqual(try state(job.jobRunID), "running")
        XCTAssertThrowsError(try Transitions(db: db).batch(job.batchRunID, from: .succeeded, to: .failed, reason: "x", at: now, runner: "t"))
        XCTAssertEqual(try transitions(job.jobRunID), ["->pending", "pending>running"])
    }

    func testAnExpiredLeaseGoesBackToTheQueueUntilRetriesAreSpentThenFails() throws {
        var job = try claimed(retries: 1)
        func expire() throws {
            try db.query("UPDATE nightshift.job_runs SET lease_expires_at = clock_timestamp() - interval '1 second' WHERE id = \(job.jobRunID)")
        }
        XCTAssertTrue(try store.rescueExpiredLeases(now: now, runner: "rescuer").isEmpty, "a live lease is never rescued")
        try expire()
        let first = try store.rescueExpiredLeases(now: now, runner: "rescuer")
        XCTAssertEqual(first.map(\.state), [.pending])
        XCTAssertEqual(first.first?.formerOwner, "runner-a")
        // Claimed again (attempt 2), its runner dies again: retries (1) are spent.
        let snapshot = try store.dispatchSnapshot(now: now, onlyBatchRun: job.batchRunID, leaseSeconds: 30)
        job = try XCTUnwrap(try store.claim(snapshot.queued, lateBy: [:], from: snapshot.states, owner: "runner-c", now: now, leaseSeconds: 30).first)
        XCTAssertEqual(job.attempt, 2)
        try expire()
        XCTAssertEqual(try store.rescueExpiredLeases(now: now, runner: "rescuer").map(\.state), [.failed])
        let row = try db.query("SELECT failures, error_class, error_message, lease_owner FROM nightshift.job_runs WHERE id = \(job.jobRunID)")
        XCTAssertEqual(row.int(0, "failures"), 2)
        XCTAssertEqual(row.string(0, "error_class"), "transient")
        XCTAssertEqual(row.string(0, "error_message"), "its runner runner-c stopped renewing the lease 2 times")
        XCTAssertNil(row.string(0, "lease_owner"))
        XCTAssertEqual(try transitions(job.jobRunID), ["->pending", "pending>running", "running>pending", "pending>running", "running>failed"])
        XCTAssertEqual(try store.closeFinishedBatches(now: now, runner: "rescuer"), [job.batchRunID])
    }
}
