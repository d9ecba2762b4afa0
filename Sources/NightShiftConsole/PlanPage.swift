import Foundation
import NightShiftCore
import NightShiftEngine

/// Tomorrow: the plan of the next scheduled daily batch, with the other batches scheduled within
/// its window sharing the slots — the same `Planner.plan` as `nightshift plan`, with the same
/// history and overrides — as a Gantt chart and a table with the critical path and slack.
enum PlanPage {
    static func context(_ page: PageContext) throws -> [String: Any] {
        let configuration = page.configuration
        let zone = page.zone
        var context = page.base("Tomorrow's plan", current: "/plan")
        guard let night = try NextNight.plan(db: page.db, configuration: configuration, now: page.now) else {
            context["none"] = true
            return context
        }
        let plan = night.plan, businessDate = night.businessDate, others = night.others
        let next = (instant: night.start, note: night.note)
        var rows: [GanttChart.Row] = []
        var entries: [[String: Any]] = []
        for (index, entry) in plan.entries.enumerated() {
            let bars = entry.segments.map { GanttChart.Bar(start: $0.start, end: $0.end, forecast: true) }
            let state: String = switch entry.status {
            case .scheduled: "planned"
            case .skipped: "skipped"
            case .blocked: "blocked"
            }
            var note = ""
            if case let .blocked(reason) = entry.status { note = reason }
            if entry.status == .skipped { note = entry.overrides.map(\.summary).joined(separator: "; ") }
            let name = entry.occurrence == 0 ? entry.job.name : "\(entry.job.name) [\(entry.job.batch.rawValue)]"
            rows.append(GanttChart.Row(batchRunID: entry.occurrence, job: name, jobRunID: 0, state: state, critical: entry.critical, bars: bars,
                                       tooltip: "\(name) \(entry.job.priority) \(ConsoleFormat.time(entry.start, zone))–\(ConsoleFormat.time(entry.finish, zone))",
                                       badge: entry.critical ? "★" : nil))
            entries.append(["n": index + 1, "job": name, "priority": entry.job.priority.description, "state": state,
                            "waits_for": entry.waitsFor.joined(separator: ", "), "start": ConsoleFormat.time(entry.start, zone),
                            "finish": ConsoleFormat.time(entry.finish, zone), "duration": ConsoleFormat.duration(Double(entry.seconds)),
                            "source": entry.source.description, "slack": entry.slack.map { ConsoleFormat.duration(Double($0)) } ?? "",
                            "critical": entry.critical, "note": note, "decision": entry.decision?.reason ?? ""])
        }
        let instants = rows.flatMap { $0.bars.flatMap { [$0.start, $0.end] } } + [next.instant, plan.windowEnd]
        let (from, to) = GanttChart.range(of: instants)
        let chart = GanttChart(groups: [GanttChart.Group(title: "daily \(businessDate) at \(ConsoleFormat.dateTime(next.instant, zone))",
                                                         link: "/plan", rows: rows)],
                               lines: [GanttChart.Line(at: plan.windowEnd, label: "window ends \(ConsoleFormat.time(plan.windowEnd, zone))", kind: "window-end")],
                               bands: TonightPage.bands(page, from: from, to: to), from: from, to: to, zone: zone)
        // No job run to link to yet: the chart's labels link to the plan itself.
        context["chart"] = chart.svg().replacingOccurrences(of: "href=\"/job-runs/0\"", with: "href=\"/plan\"")
        context["start"] = ConsoleFormat.dateTime(next.instant, zone)
        context["note"] = next.note
        context["business_date"] = businessDate.description
        context["window_end"] = ConsoleFormat.dateTime(plan.windowEnd, zone)
        context["fits"] = plan.fitsWindow
        context["required_finish"] = ConsoleFormat.dateTime(plan.requiredFinish, zone)
        context["critical_path"] = plan.criticalPath.joined(separator: " → ")
        context["entries"] = entries
        context["also"] = ConsoleFormat.nonEmpty(others.map { "\($0.0.rawValue) at \(ConsoleFormat.dateTime($0.1, zone))" }.joined(separator: ", "))
        context["warnings"] = plan.warnings
        return context
    }
}
