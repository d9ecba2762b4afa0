import Foundation

/// A classic 5-field cron expression (minute hour day-of-month month day-of-week).
///
/// Supports `*`, lists, ranges, steps (`*/15`, `1-10/2`, `5/10` = from 5 to the end by 10), month
/// and weekday names (`JAN`…`DEC`, `SUN`…`SAT`), day-of-week 0 and 7 both Sunday, and the macros
/// `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly`.
///
/// Day rule (Vixie cron): when both day-of-month and day-of-week are restricted (neither starts
/// with `*`), a day matches if **either** matches; otherwise both must.
///
/// Time zones: evaluated on the wall clock of a zone, with the DST policy of
/// `TimeZone.instant(of:)`: a time skipped by a spring-forward gap fires once at the first valid
/// instant after it; a time repeated by a fall-back overlap fires once, at its first occurrence.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    public let source: String
    public let minutes: [Int]
    public let hours: [Int]
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool

    public var description: String { source }

    public struct ParseError: Error, Equatable, Sendable, CustomStringConvertible {
        public let expression: String
        /// `minute`, `hour`, `day-of-month`, `month`, `day-of-week`, or `expression`.
        public let field: String
        public let token: String
        public let problem: String

        public var description: String {
            "cron expression \"\(expression)\": \(field) field `\(token)`: \(problem)"
        }
    }

    static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    public static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    public init(_ text: String) throws(ParseError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        source = trimmed
        var expanded = trimmed
        if trimmed.hasPrefix("@") {
            guard let macro = CronExpression.macros[trimmed.lowercased()] else {
                throw ParseError(expression: trimmed, field: "expression", token: trimmed,
                                 problem: "unknown macro; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly")
            }
            expanded = macro
        }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(expression: trimmed, field: "expression", token: trimmed,
                             problem: "has \(fields.count) fields; write 5: minute hour day-of-month month day-of-week")
        }
        func parse(_ index: Int, _ name: String, _ range: ClosedRange<Int>, names: [String] = [], nameBase: Int = 0) throws(ParseError) -> Set<Int> {
            try CronExpression.parseField(fields[index], name: name, range: range, names: names, nameBase: nameBase, expression: trimmed)
        }
        minutes = try parse(0, "minute", 0...59).sorted()
        hours = try parse(1, "hour", 0...23).sorted()
        daysOfMonth = try parse(2, "day-of-month", 1...31)
        months = try parse(3, "month", 1...12, names: CronExpression.monthNames, nameBase: 1)
        daysOfWeek = Set(try parse(4, "day-of-week", 0...7, names: CronExpression.dayNames).map { $0 % 7 })
        dayOfMonthRestricted = !fields[2].hasPrefix("*")
        dayOfWeekRestricted = !fields[4].hasPrefix("*")
        if dayOfMonthRestricted && !dayOfWeekRestricted,
           !daysOfMonth.contains(where: { day in months.contains { day <= LocalDate.daysIn(year: 2024, month: $0) } }) {
            throw ParseError(expression: trimmed, field: "day-of-month", token: fields[2],
                             problem: "no selected month has such a day, so it would never fire")
        }
    }

    static func parseField(_ field: String, name: String, range: ClosedRange<Int>, names: [String], nameBase: Int,
                           expression: String) throws(ParseError) -> Set<Int> {
        func fail(_ token: String, _ problem: String) -> ParseError {
            ParseError(expression: expression, field: name, token: token, problem: problem)
        }
        func value(_ token: String) throws(ParseError) -> Int {
            if let index = names.firstIndex(of: token.uppercased()) { return index + nameBase }
            guard let number = Int(token) else {
                let hint = names.isEmpty ? "" : " or a name (\(names.joined(separator: " ")))"
                throw fail(token, "not a number\(hint)")
            }
            guard range.contains(number) else { throw fail(token, "out of range \(range.lowerBound)-\(range.upperBound)") }
            return number
        }
        var result: Set<Int> = []
        for part in field.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !part.isEmpty else { throw fail(field, "empty list item") }
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard pieces.count <= 2 else { throw fail(part, "more than one `/`") }
            var step = 1
            if pieces.count == 2 {
                guard let s = Int(pieces[1]), s > 0 else { throw fail(part, "step must be a positive number") }
                step = s
            }
            let base = pieces[0]
            var low: Int, high: Int
            if base == "*" {
                low = range.lowerBound
                high = range.upperBound
            } else if let dash = base.firstIndex(of: "-") {
                low = try value(String(base[..<dash]))
                high = try value(String(base[base.index(after: dash)...]))
                guard low <= high else { throw fail(part, "range runs backwards; write the smaller value first") }
            } else {
                low = try value(base)
                high = pieces.count == 2 ? range.upperBound : low
            }
            for v in stride(from: low, through: high, by: step) { result.insert(v) }
        }
        return result
    }

    /// Whether the local date matches the month and the day rule.
    public func matches(_ date: LocalDate) -> Bool {
        guard months.contains(date.month) else { return false }
        let dom = daysOfMonth.contains(date.day)
        let dow = daysOfWeek.contains(date.weekday)
        if dayOfMonthRestricted && dayOfWeekRestricted { return dom || dow }
        return dom && dow
    }

    /// The first fire instant strictly after `instant`, or nil if none within 28 years.
    public func next(after instant: Date, in zone: TimeZone) -> Date? {
        let local = LocalDateTime(instant, in: zone)
        // A wall time more than any DST shift (3 h, with margin) before `instant`'s own wall time
        // cannot resolve to a later instant: skip those without asking the time zone.
        let earliestWall = local.wallSeconds - 3 * 3600
        let start = local.date.adding(days: -1)
        for offset in 0..<(366 * 28) {
            let day = start.adding(days: offset)
            guard matches(day) else { continue }
            let dayWall = day.dayNumber * 86_400
            for hour in hours where dayWall + hour * 3600 + 3599 >= earliestWall {
                for minute in minutes where dayWall + hour * 3600 + minute * 60 >= earliestWall {
                    let fire = zone.instant(of: LocalDateTime(date: day, hour: hour, minute: minute))
                    if fire > instant { return fire }
                }
            }
        }
        return nil
    }

    /// The next `count` fire instants after `instant`.
    public func next(_ count: Int, after instant: Date, in zone: TimeZone) -> [Date] {
        var result: [Date] = []
        var cursor = instant
        while result.count < count, let fire = next(after: cursor, in: zone) {
            result.append(fire)
            cursor = fire
        }
        return result
    }
}
