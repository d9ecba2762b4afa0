import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftMail
import PostgresClient

/// The mail the managers read in the morning, from `templates/summary.*.mustache`: for a whole
/// night (every batch run scheduled in it) or for one batch run. The overall result comes first
/// (the subject says success or how many failed); then a timeline of the night (`NightTimeline`:
/// a Gantt chart as a table, against the window rules); then per batch and job: state, rows,
/// duration, retries, pauses, rejected records, outputs with SHA-256, skips and why, and what
/// still waits and why. Every time is on the runner's clock, in the configured zone.
struct NightMail {
    let configuration: Configuration

    /// The night from the previous morning to `morning` (both at `mail.morning`), or nil for one batch's mail.
    struct Night {
        let from: Date
        let to: Date
        /// The morning's date: the night ends on it.
        let date: LocalDate
    }

    private var settings: RunnerSettings { configuration.settings }
    private var zone: TimeZone { settings.timeZone }

    /// The message about `reports`; recipients: `mail.to` and those of their batches and jobs.
    /// `unreadable`: batch runs that could not be read; the mail says so instead of leaving them out silently.
    func message(_ reports: [BatchReport], night: Night?, now: Date, unreadable: [RowDecodingError] = []) throws -> MailMessage {
        let templates = try MailTemplates(directory: settings.templatesDirectory, name: "summary")
        var context = context(reports, night: night, now: now)
        if !unreadable.isEmpty {
            context["ok"] = false
            context["unreadable"] = unreadable.map { ["row": $0.row, "error": "\($0)"] }
        }
        let rendered = templates.render(context)
        let to = settings.mail.recipients(batches: reports.map(\.batch), jobs: reports.flatMap { $0.jobs.map(\.job.name) })
        return MailMessage(from: settings.mail.from, to: to, subject: rendered.subject, date: now, text: rendered.text, html: rendered.html)
    }

    func context(_ reports: [BatchReport], night: Night?, now: Date) -> [String: Any] {
        // A cancelled run (its request cancelled before any job started) is neither a success nor
        // a failure: listed with who cancelled it, and left out of the result.
        let cancelled = reports.filter { $0.state == .cancelled }
        let ran = reports.filter { $0.state != .cancelled }
        let jobs = ran.flatMap(\.jobs)
        let failed = jobs.filter { $0.state == .failed || $0.state == .timedOut }
        let skipped = jobs.filter { $0.state == .skipped }
        let unfinished = ran.filter { $0.state == .running }
        let ok = failed.isEmpty && skipped.isEmpty && unfinished.isEmpty && ran.allSatisfy { $0.state == .succeeded }
        var result: String
        if ran.isEmpty && !cancelled.isEmpty {
            result = "no batch ran: \(cancelled.count) cancelled"
        } else if ran.isEmpty {
            result = "no batch ran"
        } else if ok {
            result = night == nil ? "all \(jobs.count) jobs succeeded"
                : ran.count == 1 ? "the \(ran[0].batch.rawValue) batch succeeded (\(jobs.count) jobs)"
                : "all \(ran.count) batches succeeded (\(jobs.count) jobs)"
        } else {
            var parts: [String] = []
            if !failed.isEmpty { parts.append("\(failed.count) failed") }
            if !skipped.isEmpty { parts.append("\(skipped.count) skipped") }
            result = parts.joined(separator: ", ") + " of \(jobs.count) jobs"
            if !unfinished.isEmpty { result += parts.isEmpty ? "\(unfinished.count) still running" : ", \(unfinished.count) batch\(unfinished.count == 1 ? "" : "es") still running" }
            if parts.isEmpty && unfinished.isEmpty { result = "FAILED" }
        }
        if !cancelled.isEmpty && !ran.isEmpty {
            result += "; \(cancelled.count) batch run\(cancelled.count == 1 ? "" : "s") cancelled"
        }
        let title = night.map { "night of \($0.date)" } ?? reports.first.map { "\($0.batch.rawValue) batch \($0.businessDate)" } ?? "night"
        var context: [String: Any] = [
            "title": title,
            "is_night": night != nil,
            "ok": ok && !ran.isEmpty,
            "nothing_ran": ran.isEmpty,
            "cancelled": cancelled.map { report -> [String: Any] in
                ["batch": report.batch.rawValue, "business_date": report.businessDate.description, "batch_run_id": report.batchRunID,
                 "why": report.endReason ?? "cancelled"]
            },
            "result": result,
            "failed_jobs": failed.map { ["name": $0.job.name, "error": $0.failure?.description ?? $0.state.rawValue] },
            "generated_at": local(now),
            "zone": zone.identifier,
            "batches": reports.map { batchContext($0) },
            "queued_later": jobs.compactMap { job -> [String: Any]? in
                guard !job.state.isFinal, let reason = job.waitReason else { return nil }
                let batch = reports.first { $0.jobs.contains { $0.jobRunID == job.jobRunID } }
                var entry: [String: Any] = ["job": job.job.name, "batch": batch?.batch.rawValue ?? "", "why": reason]
                entry["until"] = job.waitUntil.map(local)
                return entry
            },
        ]
        // Files a system expected and did not get by the time this mail is written, said plainly at the top.
        let undelivered = jobs.flatMap { job in
            job.outputs.flatMap { output in
                (job.deliveries[output.path] ?? []).filter { $0.state != .delivered }.map { delivery -> [String: Any] in
                    ["name": (output.path as NSString).lastPathComponent, "target": delivery.target, "line": deliveryLine(delivery).text]
                }
            }
        }
        if !undelivered.isEmpty {
            context["undelivered"] = undelivered
            context["undelivered_by"] = time(now, seconds: false)
        }
        if let night {
            context["night_from"] = local(night.from)
            context["night_to"] = local(night.to)
        }
        // Single-batch fields the subject and the text of one batch's mail use.
        if night == nil, let report = reports.first {
            let batch = batchContext(report)
            for key in ["batch", "business_date", "total", "succeeded", "failed", "skipped"] { context[key] = batch[key] }
        }
        if let timeline = timeline(reports, night: night, now: now) { context["timeline"] = timeline }
        return context
    }

    private func batchContext(_ report: BatchReport) -> [String: Any] {
        let failed = report.jobs.filter { $0.state == .failed || $0.state == .timedOut }.count
        let skipped = report.jobs.filter { $0.state == .skipped }.count
        let finished = report.finishedAt
        var batch: [String: Any] = [
            "batch": report.batch.rawValue,
            "business_date": report.businessDate.description,
            "batch_run_id": report.batchRunID,
            "run_number": report.runNumber,
            "trigger": report.trigger,
            "ok": report.state == .succeeded,
            "state_label": report.state.rawValue.uppercased() + (report.state == .cancelled ? ": \(report.endReason ?? "")" : ""),
            "color": report.state == .cancelled ? color(.paused)
                : color(report.state == .succeeded ? .succeeded : report.state == .running ? .running : .failed),
            "scheduled_for": local(report.scheduledFor),
            "started_at": local(report.startedAt),
            "finished_at": finished.map(local) ?? "not yet",
            "duration": formatDuration((finished ?? report.startedAt).timeIntervalSince(report.startedAt)),
            "warnings": report.warnings,
            "total": report.jobs.count,
            "succeeded": report.jobs.count - failed - skipped,
            "failed": failed,
            "skipped": skipped,
            "has_rejects": report.rejectCount > 0,
            "reject_count": report.rejectCount,
            "rejects": report.rejects.map { reject -> [String: Any] in
                ["review_id": reject.reviewID, "job": reject.job, "key": reject.key, "sqlstate": reject.sqlState ?? "", "message": reject.message]
            },
            "jobs": report.jobs.map(jobContext),
        ]
        if report.rejectCount > report.rejects.count { batch["more_rejects"] = report.rejectCount - report.rejects.count }
        if let deadline = report.deadline {
            batch["deadline"] = local(deadline)
            if let finished, finished > deadline {
                batch["late"] = "finished \(formatDuration(finished.timeIntervalSince(deadline))) after its window ended at \(local(deadline))"
            }
        }
        return batch
    }

    /// One delivery in a line: delivered (where, when), or what keeps it (said plainly).
    private func deliveryLine(_ delivery: BatchReport.Delivery) -> (text: String, ok: Bool) {
        switch delivery.state {
        case .delivered:
            return ("delivered to \(delivery.target) at \(delivery.deliveredAt.map { time($0, seconds: false) } ?? "?") (\(delivery.remotePath ?? ""))", true)
        case .dead:
            return ("NOT delivered to \(delivery.target) (dead letter after \(delivery.attempts) attempt\(delivery.attempts == 1 ? "" : "s"): "
                    + "\(delivery.lastError ?? "")); `nightshift deliveries retry \(delivery.id)` sends it again", false)
        case .queued, .sending:
            return ("not yet delivered to \(delivery.target)" + (delivery.attempts == 0 ? " (waiting its turn)"
                    : " (\(delivery.attempts) attempt\(delivery.attempts == 1 ? "" : "s") so far: \(delivery.lastError ?? "")), retried by itself"), false)
        }
    }

    private func jobContext(_ job: BatchReport.Job) -> [String: Any] {
        var entry: [String: Any] = [
            "name": job.job.name,
            "kind": job.job.kind,
            "priority": job.job.priority.description,
            "state_label": job.state.rawValue.uppercased(),
            "color": job.state.isSuccess ? color(.succeeded) : job.state == .failed || job.state == .timedOut ? color(.failed)
                : job.state == .skipped ? "#b54708" : color(.running),
            "rows": formatCount(job.rows),
            "duration": formatDuration(job.seconds),
            "attempts": job.attempts,
            "outputs": job.outputs.map { output -> [String: Any] in
                var entry: [String: Any] = ["name": (output.path as NSString).lastPathComponent, "path": output.path,
                                            "bytes": formatCount(output.bytes), "size": formatBytes(output.bytes), "sha256": output.sha256]
                entry["rows"] = output.rows.map(formatCount)
                let deliveries = (job.deliveries[output.path] ?? []).map { deliveryLine($0) }
                if !deliveries.isEmpty { entry["deliveries"] = deliveries.map { ["line": $0.text, "ok": $0.ok] } }
                return entry
            },
        ]
        // Absent keys, not empty strings, hide a template's section.
        if job.retries > 0 { entry["retries"] = String(job.retries) }
        if job.rejectedRows > 0 { entry["rejected"] = formatCount(job.rejectedRows) }
        if !job.pauses.isEmpty { entry["pauses"] = "\(job.pauses.count) (\(job.pauses.joined(separator: "; ")))" }
        if let started = job.startedAt { entry["ran"] = time(started, seconds: true) + (job.finishedAt.map { "–" + time($0, seconds: true) } ?? "") }
        if let failure = job.failure { entry["error"] = failure.description }
        if let reason = job.skipReason { entry["skip_reason"] = reason }
        if let note = job.note { entry["note"] = note }
        if let late = job.lateStartSeconds, late > 0 { entry["late_start"] = "started \(formatDuration(Double(late))) after its start deadline" }
        if !job.state.isFinal, let reason = job.waitReason {
            entry["waiting"] = reason + (job.waitUntil.map { " (until \(local($0)))" } ?? "")
        }
        return entry
    }

    /// The Gantt chart: from the night's start (or the first batch's schedule) to the last end,
    /// the batches' deadlines included.
    private func timeline(_ reports: [BatchReport], night: Night?, now: Date) -> [String: Any]? {
        let jobs = reports.flatMap { report in
            report.jobs.filter { !$0.bars.isEmpty }.map {
                NightTimeline.Job(name: $0.job.name, batch: report.batch.rawValue, priority: $0.job.priority, bars: $0.bars)
            }
        }
        let bars = jobs.flatMap(\.bars)
        guard let firstStart = bars.map(\.start).min(), let lastEnd = bars.map(\.end).max() else { return nil }
        let deadlines = reports.compactMap { report in report.deadline.map { (batch: report.batch.rawValue, at: $0) } }
        let start = min(firstStart, reports.map(\.scheduledFor).min() ?? firstStart)
        let end = max(lastEnd, deadlines.map(\.at).max() ?? start, start.addingTimeInterval(3600))
        let chart = NightTimeline.layout(start: start, end: end, jobs: jobs, windows: configuration.windows, deadlines: deadlines)
        let multipleBatches = Set(jobs.map(\.batch)).count > 1
        return [
            "columns": chart.columns,
            // About 720 px of chart whatever the slot length.
            "cells": Array(repeating: ["width": min(24, max(6, 720 / chart.columns))], count: chart.columns),
            "slot_minutes": chart.slotSeconds / 60,
            "from": local(chart.start),
            "to": local(chart.end),
            "ticks": chart.ticks.map { ["span": $0.span, "label": $0.label] },
            "band": chart.band.map { segment -> [String: Any] in
                ["span": segment.span, "color": bandColor(segment.rule),
                 "title": "\(segment.rule.rawValue)\(segment.window.map { " (\($0))" } ?? "")"]
            },
            "rows": chart.rows.map { row -> [String: Any] in
                ["label": multipleBatches ? "\(row.job) (\(row.batch))" : row.job, "priority": row.priority.description,
                 "segments": row.segments.map { ["span": $0.span, "color": color($0.mark), "title": $0.mark == .idle ? "" : $0.mark.rawValue] }]
            },
            "deadlines": chart.deadlines.map { deadline -> [String: Any] in
                ["label": "\(deadline.batch) window ends \(time(deadline.at))", "before": deadline.column, "after": chart.columns - deadline.column - 1,
                 "has_before": deadline.column > 0, "has_after": chart.columns - deadline.column - 1 > 0]
            },
            "text": chart.plainText().joined(separator: "\n"),
        ]
    }

    private func local(_ date: Date) -> String { LocalDateTime(date, in: zone).description }
    private func time(_ date: Date, seconds: Bool = false) -> String {
        let local = LocalDateTime(date, in: zone)
        guard seconds else { return String(format: "%02d:%02d", local.hour, local.minute % 60) }
        let second = Int(date.timeIntervalSince1970 + Double(zone.secondsFromGMT(for: date))) % 60
        return String(format: "%02d:%02d:%02d", local.hour, local.minute % 60, second)
    }

    private func color(_ mark: NightTimeline.Mark) -> String {
        switch mark {
        case .idle: "#ffffff"
        case .succeeded, .ran: "#1a7f37"
        case .failed: "#b42318"
        case .retried: "#f79009"
        case .running: "#1570ef"
        case .paused: "#98a2b3"
        }
    }

    private func bandColor(_ rule: WindowRule) -> String {
        switch rule {
        case .optimal: "#d1fadf"
        case .open: "#f2f4f7"
        case .restricted: "#fef0c7"
        case .avoid: "#fecdca"
        case .never: "#912018"
        }
    }
}

/// `1.2 MiB`: a file's size as the mail and the console show it.
public func formatBytes(_ n: Int) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(n)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(n) bytes" : String(format: "%.1f %@", value, units[unit])
}
