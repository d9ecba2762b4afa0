import Foundation
import PostgresClient
import TestSupport
import XCTest

/// Bad records go to the review queue: a few deliveries whose driver commission overflows its
/// column are isolated exactly (the test knows their keys), the rest of the day commits once, the
/// job ends succeeded_with_rejects, the export still runs, the summary lists them, and
/// `nightshift review` retries and dismisses them with an audit trail.
final class ReviewQueueTests: XCTestCase {
    var night: RunnerNight!
    var bad: [String] = []

    override func setUpWithError() throws {
        night = try RunnerNight(slow: false)
        // Every record the calculation applies is logged in the chunk's own transaction.
        let db = try night.connect()
        defer { db.close() }
        try db.execute("CREATE TABLE public.apply_log (delivery_id bigint NOT NULL)")
        let apply = try night.project.read("sql/jobs/delivery_charges/apply.sql")
        try night.project.write("sql/jobs/delivery_charges/apply.sql",
                                apply + ";\nINSERT INTO public.apply_log (delivery_id) SELECT delivery_id FROM {{staging}};\n")
        // Three deliveries (spread over the day, two in one chunk) with a quantity whose commission
        // (quantity × kg × 1.5) passes numeric(10,2): SQLSTATE 22003 in the stage query.
        let keys = try db.execute("""
            SELECT id FROM erp.deliveries WHERE delivery_date = '2026-11-22' AND status = 'delivered' ORDER BY id
            """)
        let all = (0..<keys.rowCount).map { keys.string($0, 0)! }
        bad = [all[7], all[450], all[451]]
        try db.execute("UPDATE erp.deliveries SET quantity = 90000000 WHERE id = ANY($1::bigint[])", ["{\(bad.joined(separator: ","))}"])
    }

    override func tearDown() { night?.tearDown() }

    func testBadRecordsAreIsolatedExactlyAndTheRestCommitsOnce() throws {
        let run = try night.cli(["run", "--once", "--at", RunnerNight.occurrence])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertTrue(run.stdout.contains("P3    succeeded_with_rejects"), run.stdout)
        XCTAssertEqual(try night.jobState("delivery_charges"), "succeeded_with_rejects")
        XCTAssertEqual(try night.jobState("daily_delivery_export"), "succeeded", "the export after it still ran")
        let queued = try night.query("SELECT record_key::text AS k, sqlstate, record->>'quantity' AS quantity FROM nightshift.review_queue ORDER BY record_key")
        XCTAssertEqual((0..<queued.rowCount).map { queued.string($0, 0)! }, bad, "exactly the bad keys")
        XCTAssertEqual((0..<queued.rowCount).map { queued.string($0, "sqlstate")! }, ["22003", "22003", "22003"])
        XCTAssertEqual(queued.string(0, "quantity"), "90000000", "the record as it was")
        // Every other delivered delivery of the day applied exactly once; none of the bad ones.
        let counts = try night.query("""
            SELECT count(*) AS applies, count(DISTINCT delivery_id) AS records,
                   count(*) FILTER (WHERE delivery_id = ANY($1::bigint[])) AS bad_applied FROM public.apply_log
            """, ["{\(bad.joined(separator: ","))}"])
        let delivered = Int(try night.scalar("SELECT count(*) FROM erp.deliveries WHERE delivery_date = '2026-11-22' AND status = 'delivered'") ?? "0")!
        XCTAssertEqual(counts.int(0, "applies"), counts.int(0, "records"), "no chunk applied twice")
        XCTAssertEqual(counts.int(0, "records"), delivered - 3)
        XCTAssertEqual(counts.int(0, "bad_applied"), 0)
        XCTAssertEqual(try night.scalar("SELECT rejected_rows FROM nightshift.job_runs WHERE job = 'delivery_charges'"), "3")
        // The summary lists them.
        let mail = try night.summaryPlainText()
        XCTAssertTrue(mail.contains("Bad records set aside for review (3; `nightshift review list`):"), mail)
        XCTAssertTrue(mail.contains("delivery_charges key \(bad[1]): [22003] numeric field overflow"), mail)
        XCTAssertTrue(mail.contains("delivery_charges [calculation, P3] — SUCCEEDED_WITH_REJECTS"), mail)

        // review list, then a retry after the data is fixed, a retry still failing, a dismissal.
        let listed = try night.cli(["review", "list"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("delivery_charges 2026-11-22 key \(bad[0]): [22003]"), listed.stdout)
        let ids = try night.query("SELECT id::text FROM nightshift.review_queue ORDER BY record_key")
        let first = ids.string(0, 0)!, second = ids.string(1, 0)!
        let stillBad = try night.cli(["review", "retry", first])
        XCTAssertEqual(stillBad.status, 1)
        XCTAssertTrue(stillBad.stderr.contains("still fails: [22003]"), stillBad.stderr)
        try night.query("UPDATE erp.deliveries SET quantity = 2 WHERE id = $1", [bad[0]])
        let fixed = try night.cli(["review", "retry", first])
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
        XCTAssertEqual(try night.scalar("SELECT driver_commission::text FROM erp.delivery_charges WHERE delivery_id = $1", [bad[0]]).map { Double($0)! > 0 }, true)
        XCTAssertEqual(try night.cli(["review", "dismiss", second, "--reason", "test data"]).status, 0)
        XCTAssertEqual(try night.cli(["review", "dismiss", second, "--reason", "again"]).status, 1)
        XCTAssertEqual(try night.scalar("SELECT string_agg(state, ',' ORDER BY record_key) FROM nightshift.review_queue"),
                       "resolved,dismissed,open")
        // Each action passed the gate (accepted, by the person's own login), then what came of it.
        XCTAssertEqual(try night.scalar("SELECT string_agg(outcome, ',' ORDER BY id) FROM nightshift.audit WHERE command LIKE '%review%'"),
                       "accepted,retry_failed,accepted,resolved,accepted,dismissed,accepted,refused")
    }

    func testMoreRejectsThanMaxRejectsFailTheJob() throws {
        let job = try night.project.read("jobs/delivery_charges.yaml")
        try night.project.write("jobs/delivery_charges.yaml", job.replacingOccurrences(of: "max_rejects: 50", with: "max_rejects: 2"))
        let run = try night.cli(["run", "--once", "--at", RunnerNight.occurrence])
        XCTAssertEqual(run.status, 1, run.stdout)
        XCTAssertEqual(try night.jobState("delivery_charges"), "failed")
        XCTAssertTrue(try night.scalar("SELECT error_message FROM nightshift.job_runs WHERE job = 'delivery_charges'")?
            .contains("3 records set aside for review, more than max_rejects: 2") == true)
        XCTAssertEqual(try night.jobState("daily_delivery_export"), "skipped")
    }
}
