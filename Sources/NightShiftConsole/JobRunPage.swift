import Foundation
import NightShiftCore
import NightShiftEngine
import PostgresClient

/// A job run: its error with SQLSTATE, its checkpoints, its transitions and its log (every
/// attempt, or one with ?attempt=N). Actions: rerun it (a request for its job and business date)
/// once it has ended, skip it while it waits.
enum JobRunPage {
    /// Lines shown on the page; the whole log is at /job-runs/N/log.
    static let pageLines = 2_000

    static func context(_ page: PageContext, id: Int) throws -> [String: Any]? {
        let zone = page.zone
        let result = try page.db.query("""
            SELECT j.id, j.job, j.kind, j.priority, j.state, j.attempts, j.rows_processed, j.error_class, j.error_sqlstate, j.error_message,
                   j.skip_reason, j.expected_seconds, j.run_seconds, j.batch_run_id, b.batch, b.business_date::text AS business_date,
                   b.state AS batch_state, extract(epoch FROM j.started_at)::float8 AS started_at,
                   extract(epoch FROM j.finished_at)::float8 AS finished_at, j.lease_owner, j.progress_rows
            FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id WHERE j.id = \(id)
            """)
        guard let row = result.rows(of: "nightshift.job_runs").first else { return nil }
        let job = try row.text("job")
        let state = try row.value("state", as: JobState.self)
        let date = try row.text("business_date")
        var context = page.base("\(job) · \(date)", current: "")
        context["job_run"] = id
        context["job"] = job
        context["kind"] = try row.text("kind")
        context["priority"] = "P\(try row.int("priority"))"
        context["state"] = state.rawValue
        context["attempts"] = try row.int("attempts")
        context["rows"] = try row.optionalInt("rows_processed") ?? 0
        context["batch_run"] = try row.int("batch_run_id")
        context["batch"] = try row.text("batch")
        context["business_date"] = date
        context["started"] = ConsoleFormat.dateTime(try row.optionalDate("started_at"), zone)
        context["finished"] = ConsoleFormat.nonEmpty(ConsoleFormat.dateTime(try row.optionalDate("finished_at"), zone))
        context["expected"] = ConsoleFormat.duration(try row.optionalDouble("expected_seconds") ?? 0)
        context["worked"] = ConsoleFormat.duration(try row.optionalDouble("run_seconds") ?? 0)
        context["runner"] = ConsoleFormat.nonEmpty(try row.optionalText("lease_owner"))
        context["progress_rows"] = try row.optionalInt("progress_rows").map(String.init) ?? ""
        if let message = try row.optionalText("error_message") {
            let failureClass = try row.optionalText("error_class") ?? ""
            let sqlState = try row.optionalText("error_sqlstate") ?? ""
            context["error"] = ["class": failureClass, "sqlstate": sqlState, "message": message]
        }
        context["skip_reason"] = ConsoleFormat.nonEmpty(try row.optionalText("skip_reason"))
        context["can_rerun"] = state.isFinal
        let batchState = try row.text("batch_state")
        context["skippable"] = state.isQueued && batchState == BatchState.running.rawValue

        let checkpoints = try page.db.query("""
            SELECT last_key, rows_done, chunks_done, completed, extract(epoch FROM updated_at)::float8 AS updated_at, job_run_id,
                   job || '/' || business_date AS id
            FROM nightshift.checkpoints WHERE job = \(job) AND business_date = \(date)::date
            """)
        context["checkpoints"] = try checkpoints.rows(of: "nightshift.checkpoints").map { row in
            ["last_key": try row.int("last_key"), "rows_done": try row.int("rows_done"), "chunks_done": try row.int("chunks_done"),
             "completed": try row.bool("completed"), "updated": ConsoleFormat.realTime(try row.date("updated_at"), zone),
             "this_run": (try row.optionalInt("job_run_id")) == id]
        }
        context["transitions"] = try BatchRunPage.transitions(page, jobRunID: id)

        let attempt = page.request.query["attempt"].flatMap(Int.init)
        let store = JobLogStore(db: page.db)
        var lines = try store.lines(jobRunID: id, attempt: attempt, limit: pageLines + 1)
        let more = lines.count > pageLines
        if more { lines.removeLast() }
        // Lines come ordered by attempt: one group per attempt, in order.
        var order: [Int] = []
        var byAttempt: [Int: [[String: Any]]] = [:]
        for line in lines {
            if byAttempt[line.attempt] == nil { order.append(line.attempt) }
            byAttempt[line.attempt, default: []].append([
                "time": line.text(in: zone).prefix(12).description, "level": line.level.rawValue, "source": line.source.rawValue,
                "message": line.message,
            ])
        }
        context["log"] = order.map { ["attempt": $0, "lines": byAttempt[$0] ?? []] }
        context["has_log"] = !lines.isEmpty
        context["log_more"] = more
        context["attempt_filter"] = attempt.map(String.init)
        return context
    }

    /// The whole log as `nightshift logs` prints it.
    static func logText(_ page: PageContext, id: Int) throws -> String? {
        let store = JobLogStore(db: page.db)
        guard let run = try store.jobRun(id: id) else { return nil }
        var text = "\(run.job) · \(run.batch) batch of \(run.businessDate) · job run \(run.jobRunID) · \(run.state.rawValue) · \(run.attempts) attempt\(run.attempts == 1 ? "" : "s")\n"
        var last = (attempt: 0, seq: 0)
        while true {
            let lines = try store.lines(jobRunID: id, after: last)
            for line in lines {
                if line.attempt != last.attempt { text += "── attempt \(line.attempt)\n" }
                text += line.text(in: page.zone) + "\n"
                last = (line.attempt, line.seq)
            }
            if lines.count < 5_000 { break }
        }
        return text
    }
}
