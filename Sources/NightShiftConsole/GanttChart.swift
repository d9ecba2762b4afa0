import Foundation
import NightShiftCore

/// The night as one SVG Gantt chart: a row per job (grouped by batch run), what ran as a solid bar
/// coloured by state, what is forecast as a dashed bar, the critical path outlined, the window
/// rules as bands behind, and vertical lines for now and each window's end. Pure: text in, text out.
///
/// Each job is one `<g class="job" data-job="NAME" data-state="STATE" data-critical="true|false">`
/// (what the browser tests find), with `rect.ran` and/or `rect.forecast` inside.
struct GanttChart {
    struct Bar: Equatable {
        let start: Date
        let end: Date
        /// `ran` (solid) or `forecast` (dashed).
        let forecast: Bool
    }

    struct Row {
        let batchRunID: Int
        let job: String
        let jobRunID: Int
        let state: String
        let critical: Bool
        let bars: [Bar]
        let tooltip: String
        /// A mark after the label: attempts, why it waits.
        let badge: String?
    }

    struct Group {
        let title: String
        let link: String
        let rows: [Row]
    }

    struct Line {
        let at: Date
        let label: String
        /// `now` or `window-end`.
        let kind: String
    }

    struct Band {
        let start: Date
        let end: Date
        let rule: String
        let label: String
    }

    let groups: [Group]
    let lines: [Line]
    let bands: [Band]
    let from: Date
    let to: Date
    let zone: TimeZone

    static let labelWidth = 230.0
    static let chartWidth = 900.0
    static let rowHeight = 20.0
    static let groupHeight = 24.0
    static let axisHeight = 28.0

    /// The time range that shows every bar and line, padded and rounded out to the quarter hour.
    static func range(of instants: [Date]) -> (Date, Date) {
        guard let first = instants.min(), let last = instants.max() else {
            let now = Date()
            return (now.addingTimeInterval(-3600), now.addingTimeInterval(3600))
        }
        let quarter = 900.0
        let from = (first.timeIntervalSince1970 / quarter).rounded(.down) * quarter
        var to = (last.timeIntervalSince1970 / quarter).rounded(.up) * quarter
        if to - from < 3600 { to = from + 3600 }
        return (Date(timeIntervalSince1970: from), Date(timeIntervalSince1970: to))
    }

    func x(_ date: Date) -> Double {
        let span = max(1, to.timeIntervalSince(from))
        let fraction = min(1, max(0, date.timeIntervalSince(from) / span))
        return Self.labelWidth + fraction * Self.chartWidth
    }

    var height: Double {
        Self.axisHeight + groups.reduce(0) { $0 + Self.groupHeight + Double($1.rows.count) * Self.rowHeight } + 8
    }

    func svg() -> String {
        let width = Self.labelWidth + Self.chartWidth + 20
        var out = #"<svg xmlns="http://www.w3.org/2000/svg" class="gantt" role="img" aria-label="The night's batch runs and jobs over time" "#
            + #"viewBox="0 0 \#(f(width)) \#(f(height))" width="\#(f(width))" height="\#(f(height))">"#
        // Window rules behind everything.
        for band in bands where band.end > from && band.start < to {
            out += #"<rect class="band rule-\#(escape(band.rule))" x="\#(f(x(band.start)))" y="\#(f(Self.axisHeight))" "#
                + #"width="\#(f(max(0, x(band.end) - x(band.start))))" height="\#(f(height - Self.axisHeight))"><title>\#(escape(band.label))</title></rect>"#
        }
        // The time axis: a tick every 30 minutes (every hour past 8 hours).
        let step: TimeInterval = to.timeIntervalSince(from) > 8 * 3600 ? 3600 : 1800
        var tick = Date(timeIntervalSince1970: (from.timeIntervalSince1970 / step).rounded(.up) * step)
        while tick <= to {
            let local = LocalDateTime(tick, in: zone)
            let label = String(format: "%02d:%02d", local.minute / 60, local.minute % 60)
            out += #"<line class="tick" x1="\#(f(x(tick)))" x2="\#(f(x(tick)))" y1="\#(f(Self.axisHeight - 6))" y2="\#(f(height))"/>"#
            out += #"<text class="tick-label" x="\#(f(x(tick)))" y="\#(f(Self.axisHeight - 10))" text-anchor="middle">\#(label)</text>"#
            tick = tick.addingTimeInterval(step)
        }
        var y = Self.axisHeight
        for group in groups {
            out += #"<a href="\#(escape(group.link))"><text class="group-title" x="4" y="\#(f(y + 16))">\#(escape(group.title))</text></a>"#
            y += Self.groupHeight
            for row in group.rows {
                out += #"<g class="job" data-job="\#(escape(row.job))" data-state="\#(escape(row.state))" data-critical="\#(row.critical)" "#
                    + #"data-batch-run="\#(row.batchRunID)">"#
                out += #"<title>\#(escape(row.tooltip))</title>"#
                let label = row.job + (row.badge.map { " \($0)" } ?? "")
                out += #"<a href="/job-runs/\#(row.jobRunID)"><text class="job-label\#(row.critical ? " critical" : "")" x="12" y="\#(f(y + 14))">\#(escape(label))</text></a>"#
                for bar in row.bars where bar.end >= bar.start {
                    let left = x(bar.start), right = max(x(bar.end), x(bar.start) + 2)
                    out += #"<rect class="\#(bar.forecast ? "forecast" : "ran") state-\#(escape(row.state))\#(row.critical ? " critical" : "")" "#
                        + #"x="\#(f(left))" y="\#(f(y + 3))" width="\#(f(right - left))" height="\#(f(Self.rowHeight - 6))" rx="2"/>"#
                }
                out += "</g>"
                y += Self.rowHeight
            }
        }
        for line in lines where line.at >= from && line.at <= to {
            out += #"<line class="marker \#(escape(line.kind))" x1="\#(f(x(line.at)))" x2="\#(f(x(line.at)))" y1="\#(f(Self.axisHeight - 4))" y2="\#(f(height))">"#
                + #"<title>\#(escape(line.label))</title></line>"#
            // Now's label to the right of its line, a window end's to the left (it is often the chart's end).
            // (Near the right edge, now's label goes to the left too.)
            let right = line.kind == "now" && x(line.at) < Self.labelWidth + Self.chartWidth * 0.85
            let anchor = right ? "start" : "end"
            let labelX = right ? x(line.at) + 3 : x(line.at) - 3
            out += #"<text class="marker-label \#(escape(line.kind))" x="\#(f(labelX))" y="\#(f(height - 2))" text-anchor="\#(anchor)">\#(escape(line.label))</text>"#
        }
        return out + "</svg>"
    }

    private func f(_ value: Double) -> String { String(format: "%.1f", value) }

    /// Text for SVG (XML): the five characters that could end an attribute or start markup.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    private func escape(_ text: String) -> String { Self.escape(text) }
}
