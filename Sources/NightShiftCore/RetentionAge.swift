/// How long rows stay in their table before an archive job moves them out: "2 years",
/// "90 days", "6 months", "1 week". Counted back from the business date on the calendar, so the
/// cutoff of "2 years" on 2026-02-28 is 2024-02-28, and "1 month" on 03-31 is 02-28 (the month's
/// last day when the day does not exist). Rows dated before the cutoff are due.
public struct RetentionAge: Sendable, Equatable, CustomStringConvertible {
    public enum Unit: String, Sendable, CaseIterable {
        case days, weeks, months, years
    }

    public let count: Int
    public let unit: Unit

    public init(count: Int, unit: Unit) {
        self.count = count
        self.unit = unit
    }

    /// Parses "<count> <unit>" with a unit of day(s), week(s), month(s) or year(s); nil otherwise.
    public init?(text: String) {
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count == 2, let count = Int(words[0]), count >= 1, count <= 100_000 else { return nil }
        let word = words[1].lowercased()
        guard let unit = Unit.allCases.first(where: { word == $0.rawValue || word + "s" == $0.rawValue }) else { return nil }
        self.init(count: count, unit: unit)
    }

    /// The first date that is kept: rows dated before it are due for archiving.
    public func cutoff(before date: LocalDate) -> LocalDate {
        switch unit {
        case .days: return date.adding(days: -count)
        case .weeks: return date.adding(days: -7 * count)
        case .months, .years:
            let months = unit == .years ? 12 * count : count
            let index = date.year * 12 + (date.month - 1) - months
            let year = index >= 0 ? index / 12 : (index - 11) / 12
            let month = index - year * 12 + 1
            return LocalDate(year: year, month: month, day: min(date.day, LocalDate.daysIn(year: year, month: month)))
        }
    }

    public var description: String { "\(count) \(count == 1 ? String(unit.rawValue.dropLast()) : unit.rawValue)" }
}
