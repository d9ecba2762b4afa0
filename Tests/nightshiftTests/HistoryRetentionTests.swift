import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The service purges run history and sent mail past `retention:`, never a running batch, a batch
/// with a review item still open, the archive catalog or the audit.
final class HistoryRetentionTests: XCTestCase {
    var night: RunnerNight!

    override func setUpWithError() throws { night = try RunnerNight(slow: false) }
    override func tearDown() { night?.tearDown() }

    func testOldHistoryGoesAndRunningOrOpenWorkStays() throws {
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings + "\nretention:\n  history_days: 30\n  mail_days: 10\n")
        // Three nights by hand: the first is left alone below, the second keeps an open review item,
        // the third is made to look still running.
        for day in ["2026-11-21", "2026-11-22", "2026-11-23"] {
            let run = try night.cli(["run", "--once", "--at", "\(day)T02:00:00+08:00"])
            XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        }
        try night.query("""
            INSERT INTO nightshift.review_queue (job, job_run_id, business_date, record_key, record, sqlstate, message, rejected_at, state)
            SELECT j.job, j.id, b.business_date, 1, '{}'::jsonb, '22003', 'numeric field overflow', now(), 'open'
            FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id WHERE b.id = 2 AND j.job = 'delivery_charges'
            """)
        try night.query("UPDATE nightshift.batch_runs SET state = 'running', finished_at = NULL WHERE id = 3")
        // Mail: one sent message, one still queued (both old).
        try night.query("""
            INSERT INTO nightshift.mail_outbox (kind, dedupe_key, message_id, subject, envelope_from, envelope_to, message, state, next_attempt_at, created_at, sent_at)
            VALUES ('summary', 'old:sent', '<a@x>', 'old sent', 'a@x', '{b@x}', 'x', 'sent', '2026-11-01', '2026-11-01', '2026-11-01'),
                   ('summary', 'old:queued', '<b@x>', 'old queued', 'a@x', '{b@x}', 'x', 'queued', '2026-11-01', '2026-11-01', NULL)
            """)
        let audit = try night.scalar("SELECT count(*) FROM nightshift.audit")
        let transitionsOfOne = try night.scalar("SELECT count(*) FROM nightshift.state_transitions WHERE batch_run_id = 1")
        XCTAssertNotEqual(transitionsOfOne, "0")

        // Two months later the service starts; its scheduler (the leader) purges at once.
        let runner = try night.start(["run", "--at", "2027-01-25T12:00:00+08:00", "--speed", "600", "--until", "2027-01-25T12:10:00+08:00"],
                                     name: "purge")
        XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
        XCTAssertTrue(runner.logText.contains("old history purged"), runner.logText)
        XCTAssertEqual(try night.scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM nightshift.batch_runs WHERE id <= 3"), "2,3",
                       "the finished night went; the one with an open review item and the running one stayed")
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.job_runs WHERE batch_run_id = 1"), "0")
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.state_transitions WHERE batch_run_id = 1"), "0")
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.outputs WHERE batch_run_id = 1"), "0")
        XCTAssertNotEqual(try night.scalar("SELECT count(*) FROM nightshift.job_runs WHERE batch_run_id = 3"), "0", "the running batch is whole")
        XCTAssertNotEqual(try night.scalar("SELECT count(*) FROM nightshift.state_transitions WHERE batch_run_id = 3"), "0")
        XCTAssertEqual(try night.scalar("SELECT string_agg(dedupe_key, ',' ORDER BY id) FROM nightshift.mail_outbox WHERE dedupe_key LIKE 'old:%'"),
                       "old:queued", "sent mail went; mail not sent yet stays")
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.audit WHERE at < '2027-01-01'"), audit, "the audit is never purged")
        let history = try night.cli(["history", "--limit", "10"])
        XCTAssertEqual(history.status, 0, history.stderr)
        XCTAssertFalse(history.stdout.contains("run #1,"), history.stdout)
    }
}
