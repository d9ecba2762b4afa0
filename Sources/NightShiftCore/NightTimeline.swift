import Foundation

/// The timeline of a night, laid out for a Gantt chart that mail clients can draw with a table:
/// a row per job, one column per time slot, each row a few runs of equal cells (colspans), under
/// a band showing the window rule of every slot (optimal … never) and the batches' deadlines.
/// Pure: the renderers (HTML table, plain text) only walk it.
public struct NightTimeline: Sendable, Equatable {
    /// What a cell shows.
    public enum Mark: String, Sendable, Equatable {
        case idle
        /// An attempt that ended as said: succeeded, failed, retried (failed and tried again, or
        /// rescued), ran (until a pause), or is still running.
        case succeeded, failed, retried, ran, running
        case paused
    }

    /// What a job did, as bars: its attempts (start, end, how each ended) and its pauses.
    public struct Job: Sendable, Equatable {
        public let name: String
        public let batch: String
        public let priority: Priority
        public let bars: [Bar]

        public init(name: String, batch: String, priority: Priority, bars: [Bar]) {
            self.name = name
            self.batch = batch
            self.priority = priority
            self.bars = bars
        }
    }

    public struct Bar: Sendable, Equatable {
        public let start: Date
        public let end: Date
        public let mark: Mark

        public init(start: Date, end: Date, mark: Mark) {
            self.start = start
            self.end = end
            self.mark = mark
        }
    }

    /// A run of `span` equal cells.
    public struct Segment: Sendable, Equatable {
        public let span: Int
        public let mark: Mark
    }

    public struct BandSegment: Sendable, Equatable {
        public let span: Int
        public let rule: WindowRule
        /// The deciding window's name (nil: no window, open).
        public let window: String?
    }

    public struct Row: Sendable, Equatable {
        public let job: String
        public let batch: String
        public let priority: Priority
        public let segments: [Segment]
    }

    /// An hour label over the column where that hour begins.
    public struct Tick: Sendable, Equatable {
        public let column: Int
        public let span: Int
        public let label: String
    }

    /// A batch's window end (its deadline), as a column.
    public struct Deadline: Sendable, Equatable {
        public let batch: String
        public let column: Int
        public let at: Date
    }

    public let start: Date
    public let end: Date
    public let slotSeconds: Int
    public let columns: Int
    public let ticks: [Tick]
    public let band: [BandSegment]
    public let rows: [Row]
    public let deadlines: [Deadline]

    /// The slot lengths tried, shortest first: the first that fits `maxColumns` is used.
    static let slotChoices = [300, 600, 900, 1800, 3600, 7200, 10800]

    /// Lays out `jobs` from `start` to `end` (rounded out to whole slots), with the rule of
    /// `windows` in every slot and each batch's deadline.
    public static func layout(start: Date, end: Date, jobs: [Job], windows: WindowSet, deadlines: [(batch: String, at: Date)],
                              maxColumns: Int = 72) -> NightTimeline {
        let length = max(60, end.timeIntervalSince(start))
        let slot = slotChoices.first { length / Double($0) <= Double(maxColumns) } ?? slotChoices.last!
        let offsets = ZoneOffsets(windows.zone)
        // Slots begin on whole multiples of the slot length in local time (02:00, 02:15, …).
        let localOffset = Double(offsets.secondsFromGMT(for: start))
        let first = Date(timeIntervalSince1970: ((start.timeIntervalSince1970 + localOffset) / Double(slot)).rounded(.down) * Double(slot) - localOffset)
        let columns = max(1, Int((end.timeIntervalSince(first) / Double(slot)).rounded(.up)))
        let slotStart = { (column: Int) in first.addingTimeInterval(Double(column * slot)) }

        var ticks: [Tick] = []
        var lastHour: Int?
        for column in 0..<columns {
            let local = LocalDateTime(slotStart(column), in: offsets)
            if local.hour != lastHour, column == 0 || local.minute % 60 == 0 || slot > 3600 {
                if let last = ticks.last { ticks[ticks.count - 1] = Tick(column: last.column, span: column - last.column, label: last.label) }
                ticks.append(Tick(column: column, span: 1, label: String(format: "%02d:%02d", local.hour, local.minute % 60)))
                lastHour = local.hour
            }
        }
        if let last = ticks.last { ticks[ticks.count - 1] = Tick(column: last.column, span: columns - last.column, label: last.label) }

        // The band: the most restrictive rule within each slot.
        var bandCells: [(WindowRule, String?)] = []
        for column in 0..<columns {
            var from = slotStart(column)
            let stop = slotStart(column + 1)
            var worst = windows.rule(at: LocalDateTime(from, in: offsets))
            while let next = windows.firstInstant(from: from, to: stop, where: { $0 < worst.rule }) {
                worst = windows.rule(at: LocalDateTime(next, in: offsets))
                from = next
            }
            bandCells.append((worst.rule, worst.window?.name))
        }
        var band: [BandSegment] = []
        for (rule, name) in bandCells {
            if let last = band.last, last.rule == rule, last.window == name {
                band[band.count - 1] = BandSegment(span: last.span + 1, rule: rule, window: name)
            } else {
                band.append(BandSegment(span: 1, rule: rule, window: name))
            }
        }

        // A job's cell: the most telling mark of the bars overlapping the slot.
        func rank(_ mark: Mark) -> Int { [.idle: 0, .paused: 1, .ran: 2, .retried: 3, .succeeded: 4, .running: 5, .failed: 6][mark]! }
        let rows = jobs.map { job -> Row in
            var cells = Array(repeating: Mark.idle, count: columns)
            for bar in job.bars {
                let from = max(0, Int(bar.start.timeIntervalSince(first) / Double(slot)))
                let to = min(columns - 1, max(from, Int((bar.end.timeIntervalSince(first) / Double(slot)).rounded(.up)) - 1))
                guard from < columns, to >= 0, from <= to else { continue }
                for column in from...to where rank(bar.mark) > rank(cells[column]) { cells[column] = bar.mark }
            }
            var segments: [Segment] = []
            for mark in cells {
                if let last = segments.last, last.mark == mark { segments[segments.count - 1] = Segment(span: last.span + 1, mark: mark) }
                else { segments.append(Segment(span: 1, mark: mark)) }
            }
            return Row(job: job.name, batch: job.batch, priority: job.priority, segments: segments)
        }
        let marks = deadlines.compactMap { deadline -> Deadline? in
            let column = Int(deadline.at.timeIntervalSince(first) / Double(slot))
            return (0...columns).contains(column) ? Deadline(batch: deadline.batch, column: min(column, columns - 1), at: deadline.at) : nil
        }
        return NightTimeline(start: first, end: slotStart(columns), slotSeconds: slot, columns: columns, ticks: ticks, band: band,
                             rows: rows, deadlines: marks)
    }

    /// The chart in plain text: a column per slot, `#` ran (and succeeded, or paused after),
    /// `x` failed, `r` an attempt that was retried, `~` paused, `>` still running; the band line shows the rules (`X` never,
    /// `a` avoid, `r` restricted, `.` open, `=` optimal), and `|` marks a batch's deadline.
    public func plainText() -> [String] {
        let width = max(8, (rows.map(\.job.count).max() ?? 0) + 5)
        func pad(_ text: String) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
        var hours = Array(repeating: Character(" "), count: columns)
        for tick in ticks {
            for (i, c) in tick.label.prefix(5).enumerated() where tick.column + i < columns && i < max(tick.span, 5) { hours[tick.column + i] = c }
        }
        var lines = [pad("") + String(hours)]
        let ruleChar: [WindowRule: Character] = [.never: "X", .avoid: "a", .restricted: "r", .open: ".", .optimal: "="]
        lines.append(pad("window") + band.map { String(repeating: ruleChar[$0.rule]!, count: $0.span) }.joined())
        let markChar: [Mark: Character] = [.idle: " ", .succeeded: "#", .ran: "#", .failed: "x", .running: ">", .retried: "r", .paused: "~"]
        for row in rows {
            var cells = Array(row.segments.map { String(repeating: markChar[$0.mark]!, count: $0.span) }.joined())
            for deadline in deadlines where cells[deadline.column] == " " { cells[deadline.column] = "|" }
            lines.append(pad("\(row.job) \(row.priority)") + String(cells))
        }
        return lines
    }
}
