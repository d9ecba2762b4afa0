import Foundation
import TestSupport
import XCTest

/// The decision model at run time, with real runner processes and a real PostgreSQL: a
/// calculation pauses at a checkpoint when a `never` window begins and resumes from it when the
/// window ends; a P1 job arriving mid-night preempts it. "No rework" is counted: every chunk's
/// records are applied exactly once (an apply log written in the chunk's own transaction).
final class RunnerDecisionTests: XCTestCase {
    var night: RunnerNight!

    override func setUpWithError() throws {
        // The plan-equals-run night is the first of December (month end, the monthly batch).
        night = try RunnerNight(seedUntil: name.contains("PlanPredicts") ? "2026-11-30" : "2026-11-22")
        // Every record the calculation applies is logged in the same transaction as the chunk.
        let db = try night.connect()
        defer { db.close() }
        try db.execute("CREATE TABLE public.apply_log (delivery_id bigint NOT NULL, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())")
        let apply = try night.project.read("sql/jobs/delivery_charges/apply.sql")
        try night.project.write("sql/jobs/delivery_charges/apply.sql",
                                apply + ";\nINSERT INTO public.apply_log (delivery_id) SELECT delivery_id FROM {{staging}};\n")
        // Chunks of 50 records at 0.25 s each: the calculation takes several seconds.
        let job = try night.project.read("jobs/delivery_charges.yaml")
        try night.project.write("jobs/delivery_charges.yaml", job.replacingOccurrences(of: "chunk_size: 100", with: "chunk_size: 50"))
    }

    override func tearDown() { night?.tearDown() }

    /// Appends a `batches:` section (YAML indented under it) to the test project's settings.
    func addBatches(_ yaml: String) throws {
        try night.project.write("etc/nightshift.yaml", try night.project.read("etc/nightshift.yaml") + "\nbatches:\n" + yaml)
    }

    /// A P1 job arriving mid-night: the weekly batch fires at 02:02 every day with urgent_fix.
    func addUrgentP1JobAt0202() throws {
        try addBatches("""
              weekly:
                cron: "2 2 * * *"
                window_hours: 2
                priority: P1
            """)
        try addJob("urgent_fix", batch: "weekly", priority: "P1", sql: "SELECT pg_sleep(0.5)")
    }

    /// Adds an aggregation job of `batch` running `sql`.
    func addJob(_ name: String, batch: String, priority: String, sql: String) throws {
        try night.project.write("jobs/\(name).yaml", """
            name: \(name)
            kind: aggregation
            batch: \(batch)
            priority: \(priority)
            estimate_minutes: 1
            aggregation:
              sql: jobs/\(name).sql
            """)
        try night.project.write("sql/jobs/\(name).sql", sql)
    }

    /// Each record applied once, and as many as there are.
    func assertNoRework(file: StaticString = #filePath, line: UInt = #line) throws {
        let counts = try night.query("SELECT count(*) AS applies, count(DISTINCT delivery_id) AS records FROM public.apply_log")
        XCTAssertEqual(counts.int(0, "applies"), counts.int(0, "records"), "a chunk was applied twice", file: file, line: line)
        XCTAssertEqual(counts.string(0, "records"),
                       try night.scalar("SELECT count(*) FROM erp.deliveries WHERE delivery_date = $1::date AND status = 'delivered'",
                                        [night.seededUntil]),
                       file: file, line: line)
    }

    func transitions(_ job: String) throws -> [(step: String, reason: String, at: String)] {
        let rows = try night.query("""
            SELECT t.from_state || '>' || t.to_state AS step, t.reason, to_char(t.at AT TIME ZONE 'Asia/Taipei', 'HH24:MI:SS') AS at
            FROM nightshift.state_transitions t JOIN nightshift.job_runs j ON j.id = t.job_run_id
            WHERE j.job = $1 AND t.from_state IS NOT NULL ORDER BY t.id
            """, [job])
        return (0..<rows.rowCount).map { (rows.string($0, "step")!, rows.string($0, "reason")!, rows.string($0, "at")!) }
    }

    func testANeverWindowPausesTheCalculationAtACheckpointAndItResumesWithNoRework() throws {
        // A never window from 02:03 to 02:05 every day; the runner's clock runs 60x from 02:01.
        var windows = try night.project.read("etc/windows.yaml")
        windows = windows.replacingOccurrences(of: "windows:\n", with: """
            windows:
              - name: maintenance
                days: all
                time: "02:03-02:05"
                rule: never

            """)
        try night.project.write("etc/windows.yaml", windows)
        let runner = try night.start(["run", "--at", "2026-11-23T02:01:00+08:00", "--speed", "60", "--until", "2026-11-23T02:25:00+08:00"],
                                     name: "windows")
        // While paused (two seconds of real time), status says so and why.
        try night.waitUntil("the calculation pauses") { try night.jobState("delivery_charges") == "paused" }
        let status = try night.cli(["status"])
        XCTAssertTrue(status.stdout.contains("delivery_charges") && status.stdout.contains("paused: paused at a checkpoint")
                      && status.stdout.contains("maintenance"), status.stdout)
        XCTAssertEqual(runner.wait(timeout: 120), 0, runner.logText)
        try assertCleanNight(night)
        try assertNoRework()
        let steps = try transitions("delivery_charges")
        XCTAssertEqual(steps.map(\.step), ["pending>running", "running>paused", "paused>running", "running>succeeded"], "\(steps)")
        XCTAssertTrue(steps[1].reason.contains("maintenance") && steps[1].reason.contains("never"), steps[1].reason)
        XCTAssertGreaterThanOrEqual(steps[1].at, "02:03:00", "paused once the window began")
        XCTAssertGreaterThanOrEqual(steps[2].at, "02:05:00", "resumed when it ended")
        XCTAssertTrue(steps[2].reason.contains("resumed from its checkpoint"), steps[2].reason)
        // Nothing was applied inside the never window.
        XCTAssertEqual(try night.scalar("""
            SELECT count(*) FROM nightshift.state_transitions t JOIN nightshift.job_runs j ON j.id = t.job_run_id
            WHERE t.to_state = 'running' AND (t.at AT TIME ZONE 'Asia/Taipei')::time >= '02:03' AND (t.at AT TIME ZONE 'Asia/Taipei')::time < '02:05'
            """), "0", "nothing started inside the never window")
        XCTAssertEqual(try night.scalar("SELECT pauses FROM nightshift.job_runs WHERE job = 'delivery_charges'"), "1")
    }

    func testALockKeepsTwoJobsApartAcrossTwoRunnerProcesses() throws {
        // daily_sales_summary and delivery_charges are independent: two runners with a slot each
        // would run them side by side. Sharing a lock, they must not overlap.
        for job in ["daily_sales_summary", "delivery_charges"] {
            try night.project.write("jobs/\(job).yaml", try night.project.read("jobs/\(job).yaml") + "\nlocks: [erp.deliveries]\n")
        }
        let summary = try night.project.read("sql/jobs/daily_sales_summary.sql")
        try night.project.write("sql/jobs/daily_sales_summary.sql", "SELECT pg_sleep(1.5);\n" + summary)
        let runners = try (1...2).map {
            try night.start(["run", "--at", "2026-11-23T01:59:50+08:00", "--speed", "60", "--until", "2026-11-23T02:25:00+08:00"],
                            name: "lock\($0)")
        }
        try night.waitUntil("a job waits for the lock", timeout: 60) {
            try night.scalar("SELECT count(*) FROM nightshift.job_runs WHERE wait_reason LIKE 'lock erp.deliveries is held by %'") == "1"
        }
        for runner in runners { XCTAssertEqual(runner.wait(timeout: 120), 0, runner.logText) }
        try assertNoRework()
        let spans = try night.query("""
            SELECT j.job, min(s.recorded_at) AS started, max(e.recorded_at) AS ended, count(DISTINCT s.runner) AS runners
            FROM nightshift.job_runs j
            JOIN nightshift.state_transitions s ON s.job_run_id = j.id AND s.to_state = 'running'
            JOIN nightshift.state_transitions e ON e.job_run_id = j.id AND e.to_state = 'succeeded'
            WHERE j.job IN ('daily_sales_summary', 'delivery_charges') GROUP BY j.job ORDER BY min(s.recorded_at)
            """)
        XCTAssertEqual(spans.rowCount, 2)
        XCTAssertEqual(try night.scalar("""
            SELECT (SELECT max(e.recorded_at) FROM nightshift.state_transitions e JOIN nightshift.job_runs j ON j.id = e.job_run_id
                    WHERE j.job = $1 AND e.to_state = 'succeeded')
                   <= (SELECT min(s.recorded_at) FROM nightshift.state_transitions s JOIN nightshift.job_runs j ON j.id = s.job_run_id
                       WHERE j.job = $2 AND s.to_state = 'running')
            """, [spans.string(0, "job")!, spans.string(1, "job")!]), "t", "the second started after the first ended")
        XCTAssertEqual(try night.scalar("SELECT count(DISTINCT lease_owner) FROM nightshift.job_runs"), "0", "no lease left")
        XCTAssertEqual(try night.scalar("SELECT count(DISTINCT runner) FROM nightshift.state_transitions WHERE to_state = 'running'"), "2",
                       "both runners took work")
    }

    func testRunnersThatWouldPassTheConnectionTotalWaitToStart() throws {
        // 4 slots per runner: 8 + 2 x 4 = 16 connections each; three runners hold 48 of the 50,
        // a fourth would pass 50 and waits until one stops.
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "concurrent_jobs: 1", with: "concurrent_jobs: 4")
            .replacingOccurrences(of: "max_connections: 12", with: "max_connections: 16"))
        let first = try (1...3).map { try night.startService(name: "runner\($0)", speed: 60, until: "2026-11-23T02:25:00+08:00") }
        try night.waitUntil("three runners registered") {
            try night.scalar("SELECT count(*) FROM nightshift.runners WHERE state = 'running'") == "3"
        }
        let fourth = try night.startService(name: "runner4", speed: 60, until: "2026-11-23T02:25:00+08:00")
        var most = 0
        let watch = try night.connect()
        defer { watch.close() }
        func sample() throws {
            let n = try watch.execute("SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
                .int(0, 0) ?? 0
            most = max(most, n)
        }
        try night.waitUntil("the fourth runner says it waits") {
            try sample()
            return fourth.logText.contains("waiting to start: the live runners hold 48 of limits.total_connections 50")
        }
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.runners"), "3", "the fourth is not registered")
        first[0].kill(SIGTERM)
        XCTAssertEqual(first[0].wait(timeout: 30), 0, first[0].logText)
        try night.waitUntil("the fourth runner starts", timeout: 30) {
            try sample()
            return try night.scalar("SELECT count(*) FROM nightshift.runners WHERE pid = $1 AND state = 'running'", [String(fourth.pid)]) == "1"
        }
        for runner in first.dropFirst() + [fourth] {
            while runner.wait(timeout: 0.1) == nil { try sample() }
        }
        XCTAssertLessThanOrEqual(most, 50, "server-side connections of the runners")
        XCTAssertGreaterThan(most, 3)
        XCTAssertEqual(try night.scalar("SELECT string_agg(state, ',') FROM nightshift.batch_runs"), "succeeded")
    }

    /// Plan equals run: a night with the monthly batch (01:55 on the 1st here), the daily batch
    /// (02:00) and a P1 job arriving at 02:02, on one slot. After the run, `nightshift plan` of the
    /// same night — with the run's durations as history — predicts the order, the start instants
    /// (within a dispatch tolerance), the preemption and the resumption that the run recorded.
    func testThePlanPredictsWhatTheRunDid() throws {
        try addBatches("""
              monthly:
                cron: "55 1 1 * *"
                window_hours: 4
                priority: P2
              weekly:
                cron: "2 2 * * *"
                window_hours: 2
                priority: P1
            """)
        try addJob("monthly_rollup", batch: "monthly", priority: "P2", sql: "SELECT pg_sleep(2)")
        try addJob("urgent_fix", batch: "weekly", priority: "P1", sql: "SELECT pg_sleep(1)")
        // The month counts as closed here (the wait for the close has tests of its own).
        try night.project.write("etc/nightshift.yaml", try night.project.read("etc/nightshift.yaml") + "\nmonth_end_close:\n  wait: false\n")
        let runner = try night.start(["run", "--at", "2026-12-01T01:54:00+08:00", "--speed", "60", "--until", "2026-12-01T02:25:00+08:00"],
                                     name: "night")
        XCTAssertEqual(runner.wait(timeout: 120), 0, runner.logText)
        try assertNoRework()

        // What the run did (runner clock): first start and pauses of every job.
        let ran = try night.query("""
            SELECT j.job, extract(epoch FROM j.started_at)::float8 AS started, j.state, j.pauses
            FROM nightshift.job_runs j ORDER BY j.started_at NULLS LAST, j.job
            """)
        var runStarts: [String: Double] = [:]
        var runOrder: [String] = []
        for row in 0..<ran.rowCount {
            guard let started = ran.double(row, "started") else { continue }
            runStarts[ran.string(row, "job")!] = started
            runOrder.append(ran.string(row, "job")!)
        }
        XCTAssertEqual(try night.jobState("customer_consumption"), "pending", "P4 may not start in the month-end window")
        XCTAssertEqual(try night.scalar("SELECT pauses FROM nightshift.job_runs WHERE job = 'delivery_charges'"), "1")

        let planned = try night.cli(["plan", "--at", "2026-12-01T01:55:00+08:00", "--batch", "monthly",
                                     "--also", "daily@2026-12-01T02:00:00+08:00", "--also", "weekly@2026-12-01T02:02:00+08:00", "--json"])
        XCTAssertEqual(planned.status, 0, planned.stderr)
        let plan = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(planned.stdout.utf8)) as? [String: Any])
        let jobs = try XCTUnwrap(plan["jobs"] as? [[String: Any]])
        let formatter = ISO8601DateFormatter()
        var planStarts: [String: Double] = [:]
        var planOrder: [String] = []
        let until = formatter.date(from: "2026-12-01T02:25:00+08:00")!
        for job in jobs {
            // What starts within the run's stretch of the night (it stopped at --until).
            guard let start = (job["start"] as? String).flatMap(formatter.date(from:)), start < until else { continue }
            planStarts[job["name"] as! String] = start.timeIntervalSince1970
            planOrder.append(job["name"] as! String)
        }
        XCTAssertEqual(planOrder, runOrder, "the same order")
        XCTAssertEqual(planOrder, ["monthly_rollup", "daily_sales_summary", "delivery_charges", "urgent_fix", "daily_delivery_export"])
        for (job, start) in runStarts {
            // Dispatch latency on the runner: a poll (0.1 s), a checkpoint (0.25 s) at 60x.
            XCTAssertEqual(planStarts[job] ?? 0, start, accuracy: 90, "\(job): planned vs run start (runner clock seconds)")
        }
        let charges = try XCTUnwrap(jobs.first { $0["name"] as? String == "delivery_charges" })
        XCTAssertEqual((charges["pauses"] as? [String])?.count, 1, "\(charges)")
        XCTAssertTrue((charges["pauses"] as? [String])?.first?.contains("preempted by urgent_fix (P1)") == true, "\(charges)")
        XCTAssertEqual((charges["segments"] as? [[String]])?.count, 2)
        let consumption = try XCTUnwrap(jobs.first { $0["name"] as? String == "customer_consumption" })
        XCTAssertTrue((consumption["start"] as? String)?.hasPrefix("2026-12-06T") == true, "after month end: \(consumption)")
    }

    /// Plan equals run where the longest-remaining-path order changes the night: two slots, a1, a2
    /// and z of 1 minute, z2 of 3 minutes after z. By name, a1 and a2 would start first and the night
    /// would end at 02:05; the run starts z at once (its path, 4 min, is the longest) and ends at
    /// 02:04. The plan, made afterwards from the run's durations, predicts the same starts.
    func testTheLongestRemainingPathStartsFirstInTheRunAsInThePlan() throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: "\(night.project.root)/jobs") {
            if try night.project.read("jobs/\(name)").contains("batch: daily") { try FileManager.default.removeItem(atPath: "\(night.project.root)/jobs/\(name)") }
        }
        try night.project.write("etc/nightshift.yaml", try night.project.read("etc/nightshift.yaml")
            .replacingOccurrences(of: "concurrent_jobs: 1", with: "concurrent_jobs: 2"))
        for (name, seconds) in [("a1", 1), ("a2", 1), ("z", 1), ("z2", 3)] {
            try addJob(name, batch: "daily", priority: "P3", sql: "SELECT pg_sleep(\(seconds))")
        }
        try night.project.write("jobs/z2.yaml", try night.project.read("jobs/z2.yaml")
            .replacingOccurrences(of: "estimate_minutes: 1", with: "estimate_minutes: 3\ndepends_on: [z]"))
        let run = try night.cli(["run", "--once", "--at", RunnerNight.occurrence, "--speed", "60"])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let ran = try night.query("""
            SELECT job, extract(epoch FROM started_at)::float8 AS started, extract(epoch FROM finished_at)::float8 AS finished
            FROM nightshift.job_runs ORDER BY started_at, job
            """)
        let at = ISO8601DateFormatter().date(from: RunnerNight.occurrence)!.timeIntervalSince1970
        var runStarts: [String: Double] = [:]
        for row in 0..<ran.rowCount { runStarts[ran.string(row, "job")!] = ran.double(row, "started")! - at }
        XCTAssertEqual(Set(runStarts.filter { $0.value < 30 }.keys), ["a1", "z"], "z and a1 first: \(runStarts)")
        let end = (0..<ran.rowCount).compactMap { ran.double($0, "finished") }.max()! - at
        XCTAssertLessThan(end, 4.5 * 60, "the night ends at about 02:04, not 02:05")

        let planned = try night.cli(["plan", "--at", RunnerNight.occurrence, "--batch", "daily", "--json"])
        XCTAssertEqual(planned.status, 0, planned.stderr)
        let plan = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(planned.stdout.utf8)) as? [String: Any])
        let formatter = ISO8601DateFormatter()
        for job in try XCTUnwrap(plan["jobs"] as? [[String: Any]]) {
            let name = job["name"] as! String
            let start = try XCTUnwrap((job["start"] as? String).flatMap(formatter.date(from:))).timeIntervalSince1970 - at
            XCTAssertEqual(start, runStarts[name] ?? -1, accuracy: 20, "\(name): planned vs run start (runner clock seconds)")
        }
        XCTAssertEqual(plan["critical_path"] as? [String], ["z", "z2"])
    }

    func testAnExportWaitsWhileTheExportsVolumeIsNearlyFull() throws {
        // 99 % free required: no real volume has that, so the export waits with the reason.
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "max_connections: 12",
                                                                                      with: "max_connections: 12\n  min_exports_free_percent: 99"))
        let runner = try night.start(["run", "--at", "2026-11-23T01:59:50+08:00", "--speed", "60", "--until", "2026-11-23T02:12:00+08:00"],
                                     name: "disk")
        try night.waitUntil("the export waits for space") {
            (try night.scalar("SELECT wait_reason FROM nightshift.job_runs WHERE job = 'daily_delivery_export'") ?? "").contains("exports volume")
        }
        let status = try night.cli(["status"])
        XCTAssertTrue(status.stdout.contains("daily_delivery_export") && status.stdout.contains("under the 99% minimum"), status.stdout)
        XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
        XCTAssertEqual(try night.jobState("daily_delivery_export"), "pending", "never started")
        XCTAssertEqual(try night.jobState("delivery_charges"), "succeeded", "other work went on")
    }

    func testP4WorkWaitsWhileTheMachineIsOverloaded() throws {
        // A 1 % limit, and two busy loops to make sure the load passes it: the P4 job waits with the
        // reason in status; the P1–P3 jobs run.
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "max_load_percent: 10000", with: "max_load_percent: 1"))
        let burners = try (0..<2).map { _ in
            let burner = Process()
            burner.executableURL = URL(fileURLWithPath: "/bin/sh")
            burner.arguments = ["-c", "while :; do :; done"]
            try burner.run()
            return burner
        }
        defer { for burner in burners { burner.terminate() } }
        // The 1-minute load average is recomputed every 5 s: give it a few readings.
        Thread.sleep(forTimeInterval: 11)
        let runner = try night.start(["run", "--at", "2026-11-23T01:59:50+08:00", "--speed", "60", "--until", "2026-11-23T02:20:00+08:00"],
                                     name: "load")
        try night.waitUntil("the P4 job waits for the load") {
            (try night.scalar("SELECT wait_reason FROM nightshift.job_runs WHERE job = 'customer_consumption'") ?? "").contains("system load")
        }
        let status = try night.cli(["status"])
        XCTAssertTrue(status.stdout.contains("customer_consumption") && status.stdout.contains("over the 1% limit"), status.stdout)
        XCTAssertEqual(runner.wait(timeout: 90), 0, runner.logText)
        XCTAssertEqual(try night.jobState("customer_consumption"), "pending", "never started while overloaded")
        XCTAssertEqual(try night.jobState("delivery_charges"), "succeeded", "P3 work went on")
        XCTAssertEqual(try night.jobState("daily_sales_summary"), "succeeded", "P2 work went on")
    }

    func testWithTwoRunnersFullAP1JobPreemptsTheCalculationOnWhicheverRunnerHoldsIt() throws {
        // Two runners, one slot each: the slow summary (P2, cannot pause) on one, the calculation
        // (P3) on the other. The P1 job arriving at 02:02 finds no slot anywhere.
        try addUrgentP1JobAt0202()
        let summary = try night.project.read("sql/jobs/daily_sales_summary.sql")
        try night.project.write("sql/jobs/daily_sales_summary.sql", "SELECT pg_sleep(6);\n" + summary)
        let runners = try (1...2).map {
            try night.start(["run", "--at", "2026-11-23T01:59:50+08:00", "--speed", "60", "--until", "2026-11-23T02:25:00+08:00"],
                            name: "two\($0)")
        }
        for runner in runners { XCTAssertEqual(runner.wait(timeout: 120), 0, runner.logText) }
        try assertNoRework()
        let steps = try transitions("delivery_charges")
        XCTAssertEqual(steps.map(\.step), ["pending>running", "running>paused", "paused>running", "running>succeeded"], "\(steps)")
        XCTAssertTrue(steps[1].reason.contains("preempted by urgent_fix (P1)"), steps[1].reason)
        XCTAssertEqual(try transitions("urgent_fix").map(\.step), ["pending>running", "running>succeeded"])
        XCTAssertEqual(try transitions("daily_sales_summary").map(\.step), ["pending>running", "running>succeeded"],
                       "the job that cannot pause was not touched")
        XCTAssertEqual(try night.scalar("SELECT count(DISTINCT runner) FROM nightshift.state_transitions WHERE to_state = 'running'"), "2")
    }

    func testAP2JobStartedPastItsDeadlineIsRecordedAndInTheSummary() throws {
        // The runner comes up at 03:10; the 02:00 occurrence is still within a 3-hour grace and
        // fires late. Its P2 job was due at 02:00 and had to start by 03:00.
        try addBatches("""
              daily:
                cron: "0 2 * * *"
                grace_minutes: 180
            """)
        let runner = try night.start(["run", "--at", "2026-11-23T03:10:00+08:00", "--speed", "60", "--until", "2026-11-23T03:35:00+08:00"],
                                     name: "late")
        XCTAssertEqual(runner.wait(timeout: 120), 0, runner.logText)
        let late = Int(try night.scalar("SELECT late_start_seconds::text FROM nightshift.job_runs WHERE job = 'daily_sales_summary'") ?? "0") ?? 0
        XCTAssertGreaterThanOrEqual(late, 600)
        // Within 10 s of real time of the runner's start at 60x (it registers, fires the late
        // occurrence and dispatches; on a loaded 2-core machine that once took 5.2 s).
        XCTAssertLessThan(late, 1200)
        XCTAssertNil(try night.scalar("SELECT late_start_seconds FROM nightshift.job_runs WHERE job = 'delivery_charges'"), "P3 has no start deadline")
        let warnings = try night.scalar("SELECT array_to_string(warnings, ' | ') FROM nightshift.batch_runs") ?? ""
        XCTAssertTrue(warnings.contains("daily_sales_summary (P2) started \(late / 60) min after its start deadline"), warnings)
        let text = try night.summaryPlainText()
        XCTAssertTrue(text.contains("daily_sales_summary (P2) started \(late / 60) min after its start deadline"), text)
    }

    func testAP1JobArrivingMidNightPreemptsTheCalculationWhichResumesWithNoRework() throws {
        // The weekly batch fires at 02:02 every day here, with one P1 job; one slot on one runner.
        try addUrgentP1JobAt0202()
        let runner = try night.start(["run", "--at", "2026-11-23T02:01:00+08:00", "--speed", "60", "--until", "2026-11-23T02:25:00+08:00"],
                                     name: "preempt")
        XCTAssertEqual(runner.wait(timeout: 120), 0, runner.logText)
        try assertNoRework()
        let steps = try transitions("delivery_charges")
        XCTAssertEqual(steps.map(\.step), ["pending>running", "running>paused", "paused>running", "running>succeeded"], "\(steps)")
        XCTAssertTrue(steps[1].reason.contains("preempted by urgent_fix (P1)"), steps[1].reason)
        let urgent = try transitions("urgent_fix")
        XCTAssertEqual(urgent.map(\.step), ["pending>running", "running>succeeded"])
        XCTAssertGreaterThanOrEqual(urgent[0].at, steps[1].at, "the P1 job took the slot the pause freed")
        XCTAssertLessThanOrEqual(urgent[1].at, steps[2].at, "the calculation resumed after it")
        XCTAssertEqual(try night.scalar("SELECT string_agg(batch || '=' || state, ',' ORDER BY batch) FROM nightshift.batch_runs"),
                       "daily=succeeded,weekly=succeeded")
    }
}
