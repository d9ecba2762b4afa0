import Foundation
import Logging
import NightShiftCore
@testable import NightShiftEngine
import PostgresClient
import TestSupport
import XCTest

/// Each upkeep concern's single pass, called directly against a real database: no runner, no
/// loop, no sleeps.
final class UpkeepTests: XCTestCase {
    var night: NightFixture!
    var context: RunnerContext!
    var store: RunnerStore!
    let now = NightFixture.twoAM

    override func setUpWithError() throws {
        night = try NightFixture(customers: 200, days: 1)
        context = try night.runnerContext("upkeep", at: now)
        store = RunnerStore(db: night.db)
    }

    override func tearDown() { night?.tearDown() }

    /// A batch run of `jobs` (name, depends on), each allowing no retry.
    func batchRun(_ jobs: [(String, [String])]) throws -> Int {
        let definitions = jobs.map { name, deps in
            JobDefinition(name: name, description: "", kind: .aggregation, batch: .daily, priority: .p3, dependsOn: deps,
                          estimateSeconds: 60, retries: 0, action: .aggregation(sql: "x.sql"))
        }
        let new = RunnerStore.NewBatchRun(batch: .daily, scheduledFor: now, deadline: now.addingTimeInterval(3600),
                                          businessDate: LocalDate(iso: "2026-11-22")!, trigger: "test", jobs: definitions, skipped: [:], warnings: [])
        guard case let .created(id) = try store.createBatchRun(new, now: now, runner: "t") else { throw TestSetupError("not created") }
        return id
    }

    /// Claims what is ready and ends each claimed job in `state`.
    func finishReady(_ batchRun: Int, as state: JobState) throws {
        let snapshot = try store.dispatchSnapshot(now: now, onlyBatchRun: batchRun, leaseSeconds: 30)
        for job in try store.claim(snapshot.queued, lateBy: [:], from: snapshot.states, owner: "t", now: now, leaseSeconds: 30) {
            try store.leaveRunning(job.lease, batchRunID: batchRun, to: state, reason: "test", now: now,
                                   update: .init(failure: state == .failed ? JobFailure(failureClass: .permanent, sqlState: "22012", message: "boom") : nil))
        }
    }

    func testBatchCloserSkipsClosesAndSummarisesInOnePassThenDoesNothing() throws {
        let id = try batchRun([("a", []), ("b", ["a"]), ("c", ["b"])])
        try finishReady(id, as: .failed)
        let closer = BatchCloser(context: context)
        var ended: [Int] = []
        closer.onBatchEnded = { ended.append($0) }
        try closer.runOnce(db: night.db, now: now)
        let jobs = try night.db.query("SELECT job || '=' || state AS j FROM nightshift.job_runs WHERE batch_run_id = \(id) ORDER BY job")
        XCTAssertEqual((0..<jobs.rowCount).map { jobs.string($0, "j")! }, ["a=failed", "b=skipped", "c=skipped"], "the skip travels down the chain")
        let batch = try night.db.query("SELECT state, summary_at IS NOT NULL AS summarised FROM nightshift.batch_runs WHERE id = \(id)")
        XCTAssertEqual(batch.string(0, "state"), "failed")
        XCTAssertEqual(batch.bool(0, "summarised"), true)
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.outputs WHERE batch_run_id = \(id) AND kind = 'summary_mail'"), 1)
        XCTAssertEqual(ended, [id, id], "closed, then summarised")
        ended = []
        try closer.runOnce(db: night.db, now: now)
        XCTAssertEqual(ended, [])
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.state_transitions WHERE batch_run_id = \(id) AND job_run_id IS NULL"), 2)
    }

    func testLeaseRescuerReturnsAnExpiredJobAndWakesTheDispatcher() throws {
        let id = try batchRun([("a", [])])
        let snapshot = try store.dispatchSnapshot(now: now, onlyBatchRun: id, leaseSeconds: 30)
        let job = try XCTUnwrap(try store.claim(snapshot.queued, lateBy: [:], from: snapshot.states, owner: "dead-runner", now: now, leaseSeconds: 30).first)
        let rescuer = LeaseRescuer(context: context)
        var woken = 0
        rescuer.onRescued = { woken += 1 }
        try rescuer.runOnce(db: night.db, now: now)
        XCTAssertEqual(woken, 0, "a live lease is left alone")
        try night.db.query("UPDATE nightshift.job_runs SET lease_expires_at = clock_timestamp() - interval '1 second' WHERE id = \(job.jobRunID)")
        try rescuer.runOnce(db: night.db, now: now)
        XCTAssertEqual(woken, 1)
        XCTAssertEqual(try night.scalar("SELECT state FROM nightshift.job_runs WHERE id = \(job.jobRunID)"), "failed", "no retries: its one failure ends it")
    }

    func testStagedFileSweeperRemovesOnlyFilesOfAttemptsThatNoLongerRun() throws {
        let id = try batchRun([("a", [])])
        let snapshot = try store.dispatchSnapshot(now: now, onlyBatchRun: id, leaseSeconds: 30)
        let job = try XCTUnwrap(try store.claim(snapshot.queued, lateBy: [:], from: snapshot.states, owner: "t", now: now, leaseSeconds: 30).first)
        let exports = context.configuration.settings.exportsDirectory
        try FileManager.default.createDirectory(atPath: exports, withIntermediateDirectories: true)
        let live = "\(exports)/.x.zip.gpg.j\(job.jobRunID)a\(job.attempt).partial"
        let old = "\(exports)/.x.zip.gpg.j\(job.jobRunID)a\(job.attempt + 5)"
        let final = "\(exports)/x.zip.gpg"
        // A killed attempt's plaintext workbook scratch in a report folder goes too; the live one's stays.
        let reportFolder = "\(context.configuration.settings.reportsDirectory)/statements"
        try FileManager.default.createDirectory(atPath: reportFolder, withIntermediateDirectories: true)
        let liveScratch = "\(reportFolder)/.s.xlsx.j\(job.jobRunID)a\(job.attempt).scratch"
        let oldScratch = "\(reportFolder)/.s.xlsx.j\(job.jobRunID)a\(job.attempt + 1).scratch"
        for path in [live, old, final, liveScratch, oldScratch] { FileManager.default.createFile(atPath: path, contents: Data("x".utf8)) }
        try StagedFileSweeper(context: context).runOnce(db: night.db, now: now)
        XCTAssertTrue(FileManager.default.fileExists(atPath: live))
        XCTAssertFalse(FileManager.default.fileExists(atPath: old))
        XCTAssertTrue(FileManager.default.fileExists(atPath: liveScratch))
        XCTAssertFalse(FileManager.default.fileExists(atPath: oldScratch))
        XCTAssertTrue(FileManager.default.fileExists(atPath: final))
    }

    /// Output retention on a real database and real files: a report past 1 year and an export past
    /// 7 years are removed, recorded on their rows and in the audit; younger ones, one whose delivery
    /// is a dead letter, a mail and a path outside the output folders stay. A file already gone is
    /// recorded as such. A second pass does nothing. The history purge then keeps the rows of the
    /// files still kept (unlinked from the run) and deletes the rows of the removed ones.
    func testOutputsPastTheirRetentionAreRemovedRecordedAndAuditedOnTheLeaderOnly() throws {
        let id = try batchRun([("a", [])])
        let jobRun = try XCTUnwrap(try night.count("SELECT id FROM nightshift.job_runs WHERE batch_run_id = \(id)"))
        let settings = context.configuration.settings
        let today = LocalDate(now, in: context.zone)
        var paths: [String: String] = [:]
        func output(_ name: String, kind: String, job: String, daysOld: Int, folder: String? = nil, file: Bool = true) throws -> Int {
            let directory = folder ?? (kind == "report" ? "\(settings.reportsDirectory)/\(job)" : settings.exportsDirectory)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = "\(directory)/\(name)"
            if file { FileManager.default.createFile(atPath: path, contents: Data(name.utf8)) }
            paths[name] = path
            return try night.count("""
                INSERT INTO nightshift.outputs (batch_run_id, job_run_id, kind, path, sha256, bytes, job, business_date)
                VALUES (\(id), \(jobRun), '\(kind)', '\(path)', repeat('0', 64), 1, '\(job)', '\(today.adding(days: -daysOld))') RETURNING id
                """)
        }
        _ = try output("old-report.csv", kind: "report", job: "branch_sales_report", daysOld: 400)
        _ = try output("young-report.csv", kind: "report", job: "branch_sales_report", daysOld: 300)
        _ = try output("gone-report.csv", kind: "report", job: "branch_sales_report", daysOld: 500, file: false)
        let undelivered = try output("undelivered.csv", kind: "report", job: "branch_sales_report", daysOld: 400)
        _ = try output("export-1y.zip.gpg", kind: "export", job: "daily_delivery_export", daysOld: 400)
        _ = try output("export-8y.zip.gpg", kind: "export", job: "daily_delivery_export", daysOld: 8 * 366)
        _ = try output("export-8y.manifest.json", kind: "manifest", job: "daily_delivery_export", daysOld: 8 * 366)
        _ = try output("summary.eml", kind: "summary_mail", job: "a", daysOld: 5000, folder: settings.outboxDirectory)
        _ = try output("elsewhere.csv", kind: "report", job: "branch_sales_report", daysOld: 900, folder: "\(night.project.root)/elsewhere")
        try night.db.query("""
            INSERT INTO nightshift.deliveries (output_id, job_run_id, target, remote_name, seq, state, attempts, next_attempt_at, last_error, created_at)
            VALUES (\(undelivered), \(jobRun), 'bank', 'undelivered.csv', 1, 'dead', 8, now(), 'host key mismatch', now())
            """)

        var leader = false
        let expiry = OutputExpiry(context: context, isLeader: { leader })
        try expiry.runOnce(db: night.db, now: now)
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.outputs WHERE removed_at IS NOT NULL"), 0, "not the leader")
        leader = true
        try expiry.runOnce(db: night.db, now: now)
        let removed = try night.db.query("SELECT path, removed_because FROM nightshift.outputs WHERE removed_at IS NOT NULL ORDER BY id")
        XCTAssertEqual((0..<removed.rowCount).map { URL(fileURLWithPath: removed.string($0, "path")!).lastPathComponent },
                       ["old-report.csv", "gone-report.csv", "export-8y.zip.gpg", "export-8y.manifest.json"])
        XCTAssertEqual(removed.string(0, "removed_because"),
                       "retention: branch_sales_report outputs are kept 1 year (business date \(today.adding(days: -400)))")
        XCTAssertTrue(removed.string(1, "removed_because")!.hasSuffix("; the file was already gone"))
        XCTAssertTrue(removed.string(2, "removed_because")!.contains("kept 7 years"))
        for name in ["old-report.csv", "export-8y.zip.gpg", "export-8y.manifest.json"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: paths[name]!), name)
        }
        for name in ["young-report.csv", "undelivered.csv", "export-1y.zip.gpg", "summary.eml", "elsewhere.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: paths[name]!), name)
        }
        let audit = try night.db.query("SELECT actor, command, detail FROM nightshift.audit WHERE outcome = 'removed' ORDER BY id")
        XCTAssertEqual(audit.rowCount, 4)
        XCTAssertEqual(audit.string(0, "actor"), "runner \(context.identity.id)")
        XCTAssertEqual(audit.string(0, "command"), "output retention")
        XCTAssertTrue(audit.string(0, "detail")!.hasPrefix("\(paths["old-report.csv"]!): retention:"), audit.string(0, "detail")!)

        // An hour later: nothing more to remove, and nothing is recorded twice.
        try expiry.runOnce(db: night.db, now: now.addingTimeInterval(3601))
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.audit WHERE outcome = 'removed'"), 4)

        // The history purge: the removed files' rows go, the kept files' rows stay, unlinked.
        try finishReady(id, as: .succeeded)
        try BatchCloser(context: context).runOnce(db: night.db, now: now)
        try night.db.query("UPDATE nightshift.batch_runs SET finished_at = \(now), summary_at = \(now) WHERE id = \(id)")
        let purge = HistoryPurge(historyDays: 7, mailDays: 1)
        _ = try purge.runOnce(db: night.db, now: now.addingTimeInterval(30 * 86_400))
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.batch_runs WHERE id = \(id)"), 1, "a dead letter keeps its run")
        try night.db.query("UPDATE nightshift.deliveries SET state = 'delivered', delivered_at = now()")
        _ = try purge.runOnce(db: night.db, now: now.addingTimeInterval(30 * 86_400))
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.batch_runs WHERE id = \(id)"), 0)
        let kept = try night.db.query("SELECT path, batch_run_id, job_run_id FROM nightshift.outputs ORDER BY id")
        XCTAssertEqual((0..<kept.rowCount).map { URL(fileURLWithPath: kept.string($0, "path")!).lastPathComponent },
                       ["young-report.csv", "undelivered.csv", "export-1y.zip.gpg", "elsewhere.csv"])
        XCTAssertNil(kept.string(0, "batch_run_id"))
        XCTAssertNil(kept.string(0, "job_run_id"))
    }

    func testHistoryPurgerRunsOnTheLeaderOnlyAndHourly() throws {
        let id = try batchRun([("a", [])])
        try finishReady(id, as: .succeeded)
        try BatchCloser(context: context).runOnce(db: night.db, now: now)
        var leader = false
        let purger = HistoryPurger(context: context, isLeader: { leader })
        let later = now.addingTimeInterval(Double(context.configuration.settings.historyDays + 1) * 86_400)
        try purger.runOnce(db: night.db, now: later)
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.batch_runs WHERE id = \(id)"), 1, "not the leader")
        leader = true
        try night.db.query("UPDATE nightshift.batch_runs SET finished_at = \(now), summary_at = \(now) WHERE id = \(id)")
        try purger.runOnce(db: night.db, now: later)
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.batch_runs WHERE id = \(id)"), 0, "purged past history_days")
    }

    func testAFailingConcernHoldsUpNoOther() throws {
        final class Failing: UpkeepConcern {
            let name = "failing"
            func runOnce(db: PostgresConnection, now: Date) throws { throw TestSetupError("broken") }
        }
        final class Counting: UpkeepConcern {
            let name = "counting"
            var passes = 0
            func runOnce(db: PostgresConnection, now: Date) throws { passes += 1 }
        }
        let counting = Counting()
        let upkeep = Upkeep(context: context, concerns: [Failing(), counting])
        defer { upkeep.close() }
        try upkeep.runOnce()
        try upkeep.runOnce()
        XCTAssertEqual(counting.passes, 2)
    }
}
