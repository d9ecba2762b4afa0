/// Public holidays and make-up workdays for the years it covers (Taiwan: etc/calendars/).
public struct HolidayCalendar: Sendable, Equatable {
    public struct Year: Sendable, Equatable {
        public let year: Int
        public let holidays: [LocalDate: String]
        /// Saturdays (or Sundays) that are workdays, compensating for a bridge holiday.
        public let makeupWorkdays: [LocalDate: String]
        /// True when the year was derived from rules rather than the official published calendar.
        public let provisional: Bool
        public let source: String

        public init(year: Int, holidays: [LocalDate: String], makeupWorkdays: [LocalDate: String], provisional: Bool, source: String) {
            self.year = year
            self.holidays = holidays
            self.makeupWorkdays = makeupWorkdays
            self.provisional = provisional
            self.source = source
        }
    }

    public enum DayKind: Sendable, Equatable {
        case workday
        case weekend
        case holiday(String)
        case makeupWorkday(String)
        /// No calendar covers the date: treated by its weekday alone, with a warning.
        case uncovered(weekend: Bool)

        public var isWorkday: Bool {
            switch self {
            case .workday, .makeupWorkday: true
            case let .uncovered(weekend): !weekend
            case .weekend, .holiday: false
            }
        }

        public var isHoliday: Bool { if case .holiday = self { true } else { false } }
    }

    public let years: [Int: Year]

    public init(years: [Year]) {
        var byYear: [Int: Year] = [:]
        for year in years { byYear[year.year] = year }
        self.years = byYear
    }

    public func covers(_ date: LocalDate) -> Bool { years[date.year] != nil }

    public func kind(of date: LocalDate) -> DayKind {
        let weekend = date.weekday == 0 || date.weekday == 6
        guard let year = years[date.year] else { return .uncovered(weekend: weekend) }
        if let name = year.makeupWorkdays[date] { return .makeupWorkday(name) }
        if let name = year.holidays[date] { return .holiday(name) }
        return weekend ? .weekend : .workday
    }

    /// The last covered date, or nil when there is no calendar at all.
    public var coveredThrough: LocalDate? { years.keys.max().map { LocalDate(year: $0, month: 12, day: 31) } }

    /// A warning an operator cannot miss, for a date no calendar covers.
    public func coverageWarning(for date: LocalDate) -> String? {
        guard !covers(date) else { return nil }
        let through = coveredThrough.map { "calendars cover up to \($0)" } ?? "no calendar is configured"
        return "WARNING: no holiday calendar covers \(date) (\(through)); treating it as an ordinary "
            + "\(date.weekday == 0 || date.weekday == 6 ? "weekend day" : "workday"). Add etc/calendars/tw-\(date.year).yaml"
    }
}

/// What a schedule does when it falls on a holiday.
public enum HolidayPolicy: String, Sendable, CaseIterable, Codable {
    case run
    case skip
    case nextWorkday = "next_workday"
    case previousWorkday = "previous_workday"

    /// The date the run happens on, or nil when it is skipped. Non-holidays are never moved.
    /// Looks at most 60 days away; a move into uncovered dates uses weekdays only.
    public func apply(to date: LocalDate, calendar: HolidayCalendar) -> LocalDate? {
        guard calendar.kind(of: date).isHoliday else { return date }
        switch self {
        case .run: return date
        case .skip: return nil
        case .nextWorkday, .previousWorkday:
            let step = self == .nextWorkday ? 1 : -1
            var day = date
            for _ in 0..<60 {
                day = day.adding(days: step)
                if calendar.kind(of: day).isWorkday { return day }
            }
            return nil
        }
    }
}
