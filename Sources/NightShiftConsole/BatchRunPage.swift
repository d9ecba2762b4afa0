import Foundation
import NightShiftCore
import NightShiftEngine
import PostgresClient

/// A batch run: its jobs, states, attempts, pauses, outputs with size, SHA-256 and delivery state,
/// and every transition. Actions: rerun the batch (a request for its business date) and skip a job
/// that has not started.
enum BatchRunPage {
    static func context(_ page: PageContext, id: Int) throws -> [String: Any]? {
        let exists = try page.db.query("SELECT 1 FROM nightshift.batch_runs WHERE id = \(id)").rowCount == 1
        guard exists else { return nil }
        let zone = page.zone
        let report = try BatchReport.load(id, db: page.db, now: page.now)
        var context = page.base("\(report.batch.rawValue) batch of \(report.businessDate), run #\(id)", current: "")
        context["batch_run"] = id
        context["batch"] = report.batch.rawValue
        context["business_date"] = report.businessDate.description
        context["state"] = report.state.rawValue
        context["trigger"] = report.trigger
        context["run_number"] = report.runNumber
        context["scheduled"] = ConsoleFormat.dateTime(report.scheduledFor, zone)
        context["started"] = ConsoleFormat.dateTime(report.startedAt, zone)
        context["finished"] = ConsoleFormat.nonEmpty(ConsoleFormat.dateTime(report.finishedAt, zone))
        context["window_end"] = ConsoleFormat.dateTime(report.deadline, zone)
        context["end_reason"] = ConsoleFormat.nonEmpty(report.endReason)
        context["warnings"] = report.warnings
        context["summary_error"] = ConsoleFormat.nonEmpty(report.summaryError)
        context["summary_mail"] = report.summaryMail.map { "\($0.state.rawValue) (\($0.attempts) attempt\($0.attempts == 1 ? "" : "s"))" }
        context["reject_count"] = report.rejectCount
        context["can_rerun"] = report.state != .running
        context["jobs"] = report.jobs.map { job -> [String: Any] in
            let outputs = job.outputs.map { output -> [String: Any] in
                let deliveries = (job.deliveries[output.path] ?? []).map { "\($0.target): \($0.state.rawValue)" }.joined(separator: ", ")
                return ["file": (output.path as NSString).lastPathComponent, "kind": output.kind.rawValue, "size": formatBytes(output.bytes),
                        "bytes": output.bytes, "sha256": output.sha256, "rows": output.rows.map(String.init) ?? "",
                        "deliveries": deliveries.isEmpty ? "not delivered anywhere" : deliveries]
            }
            return ["job": job.job.name, "job_run": job.jobRunID, "kind": job.job.kind, "priority": job.job.priority.description,
                    "state": job.state.rawValue, "attempts": job.attempts, "rows": job.rows,
                    "duration": job.seconds > 0 ? ConsoleFormat.duration(job.seconds) : "",
                    "started": ConsoleFormat.time(job.startedAt, zone), "finished": ConsoleFormat.time(job.finishedAt, zone),
                    "problem": job.failure.map { "\($0)" } ?? job.skipReason ?? "", "note": job.note ?? "",
                    "pauses": job.pauses, "outputs": outputs, "has_outputs": !outputs.isEmpty,
                    "skippable": job.state.isQueued && report.state == .running, "failed": job.state.isFailure]
        }
        context["transitions"] = try transitions(page, batchRunID: id)
        return context
    }

    static func transitions(_ page: PageContext, batchRunID: Int? = nil, jobRunID: Int? = nil) throws -> [[String: Any]] {
        let result = try page.db.query("""
            SELECT t.id, extract(epoch FROM t.at)::float8 AS at, j.job, t.from_state, t.to_state, t.reason, t.runner
            FROM nightshift.state_transitions t LEFT JOIN nightshift.job_runs j ON j.id = t.job_run_id
            WHERE (\(batchRunID)::bigint IS NULL OR t.batch_run_id = \(batchRunID)::bigint)
              AND (\(jobRunID)::bigint IS NULL OR t.job_run_id = \(jobRunID)::bigint)
            ORDER BY t.id LIMIT 2000
            """)
        return try result.rows(of: "nightshift.state_transitions").map { row in
            ["at": ConsoleFormat.short(try row.optionalDate("at"), page.zone), "job": try row.optionalText("job") ?? "(batch)",
             "from": try row.optionalText("from_state") ?? "", "to": try row.text("to_state"), "reason": try row.optionalText("reason") ?? "",
             "runner": try row.optionalText("runner") ?? ""]
        }
    }
}
