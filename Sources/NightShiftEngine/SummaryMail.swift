import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftMail
import Packaging

/// Renders the batch summary from `templates/summary.*.mustache`, keeps a copy as an `.eml` in
/// `paths.outbox` (the batch's summary output, for a person to open) and returns the message,
/// which the caller queues in the outbox table for the mail sender.
struct SummaryMail {
    let configuration: Configuration

    func write(_ report: BatchReport) throws -> (output: JobOutput, message: MailMessage) {
        let settings = configuration.settings
        let templates = try MailTemplates(directory: settings.templatesDirectory, name: "summary")
        let rendered = templates.render(context(report))
        let message = MailMessage(from: settings.mail.from, to: settings.mail.to, subject: rendered.subject,
                                  date: report.finishedAt ?? report.startedAt, text: rendered.text, html: rendered.html)
        let name = "\(report.batch.rawValue)-\(report.businessDate)-run\(report.batchRunID)"
        let stored = try Outbox(directory: settings.outboxDirectory).store(message, name: name)
        let hasher = SHA256()
        stored.data.withUnsafeBytes { hasher.update($0) }
        return (JobOutput(kind: .summaryMail, path: stored.path, sha256: try hasher.finalize(), bytes: stored.data.count, rows: nil), message)
    }

    func context(_ report: BatchReport) -> [String: Any] {
        let zone = configuration.settings.timeZone
        let failed = report.jobs.filter { $0.state == .failed || $0.state == .timedOut }.count
        // succeeded_with_rejects counts as succeeded here; its rejects are listed on their own.
        let finished = report.finishedAt ?? report.startedAt
        let skipped = report.jobs.filter { $0.state == .skipped }.count
        return [
            "batch": report.batch.rawValue,
            "business_date": report.businessDate.description,
            "ok": report.state == .succeeded,
            "scheduled_for": report.scheduledFor.iso8601(in: zone),
            "started_at": report.startedAt.iso8601(in: zone),
            "finished_at": finished.iso8601(in: zone),
            "duration": formatDuration(finished.timeIntervalSince(report.startedAt)),
            "batch_run_id": report.batchRunID,
            "warnings": report.warnings,
            "total": report.jobs.count,
            "succeeded": report.jobs.count - failed - skipped,
            "failed": failed,
            "skipped": skipped,
            "has_rejects": report.rejectCount > 0,
            "reject_count": report.rejectCount,
            "more_rejects": report.rejectCount > report.rejects.count ? report.rejectCount - report.rejects.count : 0,
            "rejects": report.rejects.map { reject -> [String: Any] in
                ["review_id": reject.reviewID, "job": reject.job, "key": reject.key, "sqlstate": reject.sqlState ?? "", "message": reject.message]
            },
            "jobs": report.jobs.map { job -> [String: Any] in
                var entry: [String: Any] = [
                    "name": job.job.name,
                    "kind": job.job.kind,
                    "priority": job.job.priority.description,
                    "state_label": job.state.rawValue.uppercased(),
                    "color": job.state == .succeeded ? "#1a7f37" : job.state == .failed || job.state == .timedOut ? "#b42318" : "#b54708",
                    "rows": formatCount(job.rows),
                    "duration": formatDuration(job.seconds),
                    "attempts": job.attempts,
                    "outputs": job.outputs.map { ["path": $0.path, "bytes": formatCount($0.bytes), "sha256": $0.sha256] },
                ]
                if let failure = job.failure { entry["error"] = failure.description }
                if let reason = job.skipReason { entry["skip_reason"] = reason }
                if let note = job.note { entry["note"] = note }
                return entry
            },
        ]
    }
}

func formatDuration(_ seconds: Double) -> String {
    if seconds < 60 { return String(format: "%.2f s", seconds) }
    let whole = Int(seconds.rounded())
    if whole < 3600 { return String(format: "%d min %02d s", whole / 60, whole % 60) }
    return String(format: "%d h %02d min", whole / 3600, (whole % 3600) / 60)
}

func formatCount(_ n: Int) -> String {
    let digits = String(n)
    var out = ""
    for (i, c) in digits.reversed().enumerated() {
        if i > 0 && i % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return String(out.reversed())
}
