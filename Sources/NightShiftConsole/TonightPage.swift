import Foundation
import NightShiftCore
import NightShiftEngine

/// Tonight: every batch run of the night on one Gantt chart against the window rules and each
/// window's end, with the forecast of what has not ended, the critical path and each job's slack
/// (`NightView`, the computation `plan` uses), and a warning at the top for a batch forecast to
/// miss its window.
enum TonightPage {
    static func context(_ page: PageContext) throws -> [String: Any] {
        let zone = page.zone
        let view = try NightView.load(db: page.db, configuration: page.configuration, now: page.now)
        var context = page.base("Tonight", current: "/")
        var groups: [GanttChart.Group] = []
        var lines: [GanttChart.Line] = [GanttChart.Line(at: view.now, label: "now \(ConsoleFormat.time(view.now, zone))", kind: "now")]
        var instants: [Date] = [view.now]
        var warnings: [String] = []
        var batches: [[String: Any]] = []
        for batch in view.batches {
            let title = "\(batch.batch.rawValue) \(batch.businessDate) · run #\(batch.batchRunID) · \(batch.state.rawValue)"
            var rows: [GanttChart.Row] = []
            var jobs: [[String: Any]] = []
            for job in batch.jobs {
                var bars: [GanttChart.Bar] = []
                if let started = job.startedAt {
                    let end = job.finishedAt ?? (job.state == .running ? view.now : job.changedAt ?? view.now)
                    bars.append(.init(start: started, end: max(started, end), forecast: false))
                }
                if let start = job.forecastStart, let finish = job.forecastFinish {
                    let from = job.state == .running ? view.now : max(start, view.now)
                    if finish > from { bars.append(.init(start: from, end: finish, forecast: true)) }
                }
                instants += bars.flatMap { [$0.start, $0.end] }
                let waits = job.blocked.map { "cannot run: \($0)" } ?? job.why
                let badge = [job.attempts > 1 ? "×\(job.attempts)" : nil, job.critical ? "★" : nil].compactMap { $0 }.joined(separator: " ")
                let ends = job.finishedAt.map { "ended \(ConsoleFormat.time($0, zone))" }
                    ?? job.forecastFinish.map { "forecast end \(ConsoleFormat.time($0, zone))" } ?? ""
                let tooltip = ["\(job.name) (\(job.priority)) \(job.state.rawValue)", job.startedAt.map { "started \(ConsoleFormat.time($0, zone))" },
                               ends.isEmpty ? nil : ends, job.slack.map { "slack \(ConsoleFormat.duration(Double($0)))" }, waits, job.problem]
                    .compactMap { $0 }.joined(separator: " · ")
                rows.append(GanttChart.Row(batchRunID: batch.batchRunID, job: job.name, jobRunID: job.jobRunID, state: job.state.rawValue,
                                           critical: job.critical, bars: bars, tooltip: tooltip, badge: badge.isEmpty ? nil : badge))
                jobs.append([
                    "job": job.name, "job_run": job.jobRunID, "priority": job.priority.description, "state": job.state.rawValue,
                    "attempts": job.attempts, "retried": job.attempts > 1, "critical": job.critical,
                    "started": ConsoleFormat.time(job.startedAt, zone), "ended": ConsoleFormat.time(job.finishedAt, zone),
                    "forecast_start": job.startedAt == nil ? ConsoleFormat.time(job.forecastStart, zone) : "",
                    "forecast_end": job.finishedAt == nil ? ConsoleFormat.time(job.forecastFinish, zone) : "",
                    "slack": job.slack.map { ConsoleFormat.duration(Double($0)) } ?? "", "negative_slack": (job.slack ?? 0) < 0,
                    "why": waits ?? "", "problem": job.problem ?? "",
                ])
            }
            groups.append(GanttChart.Group(title: "\(batch.batch.rawValue) \(batch.businessDate) #\(batch.batchRunID)", link: "/batch-runs/\(batch.batchRunID)", rows: rows))
            instants.append(batch.scheduledFor)
            if let end = batch.windowEnd {
                lines.append(GanttChart.Line(at: end, label: "\(batch.batch.rawValue) window ends \(ConsoleFormat.time(end, zone))", kind: "window-end"))
                instants.append(end)
            }
            let misses = batch.state == .running && !batch.fitsWindow
            if misses {
                let end = batch.windowEnd.map { ConsoleFormat.time($0, zone) } ?? "?"
                let blockedJobs = batch.jobs.filter { $0.blocked != nil && $0.priority != .p4 }.map(\.name)
                warnings.append("The \(batch.batch.rawValue) batch of \(batch.businessDate) is forecast to miss its window: "
                    + (blockedJobs.isEmpty ? "its P1–P3 work ends about \(ConsoleFormat.time(batch.requiredFinish, zone)), the window ends \(end)."
                        : "\(blockedJobs.joined(separator: ", ")) cannot run, and the window ends \(end)."))
            }
            batches.append([
                "batch_run": batch.batchRunID, "title": title, "state": batch.state.rawValue, "running": batch.state == .running,
                "window_end": ConsoleFormat.dateTime(batch.windowEnd, zone), "forecast_end": ConsoleFormat.time(batch.requiredFinish, zone),
                "all_end": ConsoleFormat.time(batch.predictedFinish, zone), "fits": batch.fitsWindow, "misses": misses,
                "critical_path": batch.criticalPath.joined(separator: " → "), "has_critical_path": !batch.criticalPath.isEmpty,
                "waiting_for": batch.waitingFor ?? "", "waits": batch.waitingFor != nil, "jobs": jobs,
            ])
        }
        let (from, to) = GanttChart.range(of: instants)
        let chart = GanttChart(groups: groups, lines: lines, bands: bands(page, from: from, to: to), from: from, to: to, zone: zone)
        context["batches"] = batches
        context["has_batches"] = !batches.isEmpty
        context["warnings"] = warnings
        context["chart"] = groups.isEmpty ? "" : chart.svg()
        context["slots"] = view.slots
        context["problems"] = view.problems
        return context
    }

    /// The window rules over the chart's range, minute by minute, merged where they do not change.
    static func bands(_ page: PageContext, from: Date, to: Date) -> [GanttChart.Band] {
        let windows = page.configuration.windows
        var bands: [GanttChart.Band] = []
        var instant = from
        while instant < to {
            let (rule, window) = windows.rule(at: LocalDateTime(instant, in: page.zone))
            let label = (window.map { "\($0.name): " } ?? "") + rule.rawValue
            if let last = bands.last, last.rule == rule.rawValue, last.label == label {
                bands[bands.count - 1] = GanttChart.Band(start: last.start, end: instant.addingTimeInterval(60), rule: last.rule, label: label)
            } else {
                bands.append(GanttChart.Band(start: instant, end: instant.addingTimeInterval(60), rule: rule.rawValue, label: label))
            }
            instant = instant.addingTimeInterval(60)
        }
        return bands
    }
}
