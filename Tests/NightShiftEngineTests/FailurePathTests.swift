import Foundation
import NightShiftCore
import NightShiftEngine
import TestSupport
import XCTest

final class FailurePathTests: XCTestCase {
    var night: NightFixture!

    override func setUpWithError() throws { night = try NightFixture(customers: 4000, days: 2) }
    override func tearDown() { night?.tearDown() }

    func testAnOutputThatCannotBePublishedFailsTheAttemptWithItsOwnErrorAtOnce() throws {
        // Where the report's CSV should go, a folder with a file in it: the rename that publishes it fails.
        let blocked = "\(night.project.root)/var/reports/branch_sales_report/branch-sales-2026-11-22.csv"
        try FileManager.default.createDirectory(atPath: blocked, withIntermediateDirectories: true)
        try "in the way".write(toFile: "\(blocked)/note.txt", atomically: true, encoding: .utf8)
        let started = Date()
        let report = try night.run()
        let job = try XCTUnwrap(report.jobs.first { $0.job.name == "branch_sales_report" })
        XCTAssertEqual(job.state, .failed)
        let message = job.failure?.message ?? ""
        XCTAssertTrue(message.contains("its outputs could not be published or recorded") && message.contains("branch-sales-2026-11-22.csv"),
                      "the job run says what went wrong, not that a lease ran out: \(message)")
        XCTAssertFalse(message.contains("lease"), message)
        XCTAssertLessThan(Date().timeIntervalSince(started), 60, "ended by the worker, not by lease expiry and rescue")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(night.project.root)/var/reports/branch_sales_report")
                        .filter { $0.hasSuffix(".partial") }, [], "nothing staged is left behind")
        XCTAssertEqual(report.jobs.first { $0.job.name == "daily_sales_summary" }?.state, .succeeded, "the rest of the night ran")
    }

    func testFailedJobIsRecordedWithSQLStateDependentsSkipIndependentsRun() throws {
        // The aggregation reads a column that does not exist; the export depends on it.
        try night.project.write("sql/jobs/daily_sales_summary.sql", """
            INSERT INTO erp.daily_sales_summary (business_date, branch_id, product_id, deliveries, cylinders, kilograms, revenue)
            SELECT nightshift.business_date(), d.branch_id, d.product_id, count(*), sum(d.qty), 0, 0
            FROM erp.deliveries d WHERE d.delivery_date = nightshift.business_date() GROUP BY 2, 3
            """)
        let report = try night.run()
        XCTAssertEqual(report.state, .failed)
        let byName = Dictionary(uniqueKeysWithValues: report.jobs.map { ($0.job.name, $0) })
        XCTAssertEqual(byName["daily_sales_summary"]?.state, .failed)
        XCTAssertEqual(byName["daily_sales_summary"]?.failure?.sqlState, "42703")
        XCTAssertEqual(byName["daily_sales_summary"]?.failure?.failureClass, .permanent)
        XCTAssertEqual(byName["daily_sales_summary"]?.attempts, 1, "a permanent error is not retried")
        XCTAssertEqual(byName["delivery_charges"]?.state, .succeeded, "independent jobs still run")
        XCTAssertEqual(byName["daily_delivery_export"]?.state, .skipped)
        XCTAssertEqual(byName["daily_delivery_export"]?.skipReason, "dependency daily_sales_summary failed")

        let jobs = try night.db.execute("SELECT job, state, error_class, error_sqlstate, error_message, skip_reason FROM nightshift.job_runs ORDER BY id")
        XCTAssertEqual(jobs.string(0, "state"), "failed")
        XCTAssertEqual(jobs.string(0, "error_sqlstate"), "42703")
        XCTAssertEqual(jobs.string(0, "error_class"), "permanent")
        XCTAssertTrue(jobs.string(0, "error_message")!.contains("column d.qty does not exist"), jobs.string(0, "error_message")!)
        let skipped = (0..<jobs.rowCount).filter { jobs.string($0, "state") == "skipped" }
        XCTAssertEqual(skipped.map { jobs.string($0, "job")! }.sorted(), ["branch_sales_report", "daily_delivery_export"])
        XCTAssertEqual(skipped.map { jobs.string($0, "skip_reason")! }, ["dependency daily_sales_summary failed", "dependency daily_sales_summary failed"])
        XCTAssertEqual(try night.scalar("SELECT state FROM nightshift.batch_runs"), "failed")
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.state_transitions WHERE to_state = 'skipped'"), 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(night.project.root)/var/exports/deliveries-2026-11-22.manifest.json"))

        let text = try String(contentsOfFile: report.summary!.path, encoding: .utf8)
        let parsed = try runProcess(["python3", "-c", """
            import email, sys
            from email import policy
            m = email.message_from_string(sys.stdin.read(), policy=policy.default)
            print(m['Subject']); print(m.get_body(('plain',)).get_content())
            """], stdin: Data(text.utf8)).stdout
        XCTAssertTrue(parsed.hasPrefix("[NightShift] daily batch 2026-11-22: 1 failed, 2 skipped of 9 jobs"), parsed)
        XCTAssertTrue(parsed.contains("FAILED — action needed"))
        XCTAssertTrue(parsed.contains("error: PostgreSQL execute failed [SQLSTATE 42703]"), parsed)
        XCTAssertTrue(parsed.contains("skipped because: dependency daily_sales_summary failed"), parsed)
    }

    /// A client-side mistake in a job's SQL is the job's, not the database's: `$1` with nothing bound
    /// (or `$2` past the bound ones) is a protocol violation (08P01) in a report's bound query and an undefined parameter (42P02)
    /// in a script; either fails once, permanently, with the server's message, and is never retried.
    func testAClientMistakeInAJobsSQLFailsOnceWithTheServersMessage() throws {
        let query = try night.project.read("sql/reports/branch_sales.sql")
        try night.project.write("sql/reports/branch_sales.sql", query.replacingOccurrences(of: "WHERE", with: "WHERE $2::date IS NULL AND"))
        let script = try night.project.read("sql/jobs/customer_consumption.sql")
        try night.project.write("sql/jobs/customer_consumption.sql", "SELECT $1::int;\n" + script)
        let report = try night.run()
        let byName = Dictionary(uniqueKeysWithValues: report.jobs.map { ($0.job.name, $0) })
        for (job, sqlState, words) in [("branch_sales_report", "08P01", "bind message supplies"),
                                       ("customer_consumption", "42P02", "there is no parameter $1")] {
            let run = try XCTUnwrap(byName[job], job)
            XCTAssertEqual(run.state, .failed, job)
            XCTAssertEqual(run.attempts, 1, "\(job): a client mistake is not retried as if the database were down")
            XCTAssertEqual(run.failure?.sqlState, sqlState, job)
            XCTAssertEqual(run.failure?.failureClass, .permanent, job)
            XCTAssertTrue(run.failure?.message.contains(words) == true, "\(job): \(run.failure?.message ?? "no message")")
            XCTAssertEqual(try night.count("""
                SELECT count(*) FROM nightshift.state_transitions t JOIN nightshift.job_runs j ON j.id = t.job_run_id
                WHERE j.job = $1 AND t.to_state = 'retrying'
                """, [job]), 0, job)
        }
        XCTAssertEqual(byName["daily_sales_summary"]?.state, .succeeded, "the other jobs run")
    }

    func testTransientFailureIsRetriedAndRecorded() throws {
        // The first attempt hits a serialization failure (40001); a sequence survives the rollback.
        try night.db.execute("CREATE SEQUENCE public.flaky_attempts")
        let original = try night.project.read("sql/jobs/daily_sales_summary.sql")
        try night.project.write("sql/jobs/daily_sales_summary.sql", """
            DO $$ BEGIN
                IF nextval('public.flaky_attempts') = 1 THEN
                    RAISE EXCEPTION 'simulated serialization failure' USING ERRCODE = '40001';
                END IF;
            END $$;
            \(original)
            """)
        let report = try night.run()
        XCTAssertEqual(report.state, .succeeded)
        XCTAssertEqual(report.jobs[0].attempts, 2)
        let steps = try night.db.execute("""
            SELECT t.from_state || '>' || t.to_state AS step, t.reason FROM nightshift.state_transitions t
            JOIN nightshift.job_runs j ON j.id = t.job_run_id WHERE j.job = 'daily_sales_summary' AND t.from_state IS NOT NULL ORDER BY t.id
            """)
        XCTAssertEqual((0..<steps.rowCount).map { steps.string($0, "step")! },
                       ["pending>running", "running>retrying", "retrying>running", "running>succeeded"])
        XCTAssertTrue(steps.string(1, "reason")!.contains("SQLSTATE 40001"))
        XCTAssertEqual(try night.scalar("SELECT attempts::text FROM nightshift.job_runs WHERE job = 'daily_sales_summary'"), "2")
    }

    func testCalculationResumesAfterItsLastCommittedChunk() throws {
        let date = "2026-11-22"
        let ids = try night.db.execute("""
            SELECT id FROM erp.deliveries WHERE delivery_date = $1 AND status = 'delivered' ORDER BY id
            """, [date])
        let total = ids.rowCount
        // Chunks of 400 keep the test data small: a bad record in the third chunk (row 900).
        XCTAssertGreaterThan(total, 1000)
        // Without a keys query the bad record cannot be set aside: the job fails (the review queue
        // has tests of its own), and this test is about resuming after that failure.
        let job = try night.project.read("jobs/delivery_charges.yaml")
        try night.project.write("jobs/delivery_charges.yaml", job.replacingOccurrences(of: "chunk_size: 1000", with: "chunk_size: 400")
            .replacingOccurrences(of: "  keys: jobs/delivery_charges/keys.sql\n", with: ""))
        let poison = try XCTUnwrap(ids.string(900, 0))
        try night.db.execute("CREATE TABLE public.poison (id bigint)")
        try night.db.execute("INSERT INTO public.poison VALUES ($1)", [poison])
        // The apply step sees only the staged chunk, so it fails exactly on the chunk holding the record.
        let apply = try night.project.read("sql/jobs/delivery_charges/apply.sql")
        try night.project.write("sql/jobs/delivery_charges/apply.sql", apply.replacingOccurrences(
            of: "SELECT delivery_id, nightshift.business_date(), gross,",
            with: "SELECT delivery_id, nightshift.business_date(), gross / (CASE WHEN delivery_id IN (SELECT id FROM public.poison) THEN 0 ELSE 1 END),"))

        let failed = try night.run()
        XCTAssertEqual(failed.jobs.first { $0.job.name == "delivery_charges" }?.state, .failed)
        XCTAssertEqual(failed.jobs.first { $0.job.name == "delivery_charges" }?.failure?.sqlState, "22012")
        var checkpoint = try night.db.execute("SELECT * FROM nightshift.checkpoints WHERE job = 'delivery_charges' AND business_date = $1", [date])
        XCTAssertEqual(checkpoint.int(0, "rows_done"), 800)
        XCTAssertEqual(checkpoint.int(0, "chunks_done"), 2)
        XCTAssertEqual(checkpoint.string(0, "last_key"), ids.string(799, 0))
        XCTAssertEqual(checkpoint.bool(0, "completed"), false)
        // Exactly the committed chunks are written; the failed chunk left nothing; staging is gone.
        XCTAssertEqual(try night.count("SELECT count(*) FROM erp.delivery_charges WHERE business_date = $1", [date]), 800)
        XCTAssertEqual(try night.count("SELECT count(*) FROM pg_class WHERE relname LIKE 'batch_temp_%'"), 0)
        let firstChunkStamp = try night.scalar("SELECT max(computed_at)::text FROM erp.delivery_charges WHERE delivery_id <= $1", [ids.string(399, 0)])

        // The bad record is fixed; the next run resumes after the checkpoint.
        try night.db.execute("DELETE FROM public.poison")
        let resumed = try night.run()
        let charges = try XCTUnwrap(resumed.jobs.first { $0.job.name == "delivery_charges" })
        XCTAssertEqual(charges.state, .succeeded)
        XCTAssertEqual(charges.rows, total - 800)
        XCTAssertEqual(charges.note, "resumed after key \(ids.string(799, 0)!) (800 rows already done)")
        checkpoint = try night.db.execute("SELECT * FROM nightshift.checkpoints WHERE job = 'delivery_charges' AND business_date = $1", [date])
        XCTAssertEqual(checkpoint.int(0, "rows_done"), total)
        XCTAssertEqual(checkpoint.bool(0, "completed"), true)
        XCTAssertEqual(try night.count("SELECT count(*) FROM erp.delivery_charges WHERE business_date = $1", [date]), total)
        // Rows before the checkpoint were not processed again.
        XCTAssertEqual(try night.scalar("SELECT max(computed_at)::text FROM erp.delivery_charges WHERE delivery_id <= $1", [ids.string(399, 0)]),
                       firstChunkStamp)
        XCTAssertEqual(resumed.state, .succeeded)
    }
}
