import Foundation

/// How restrictive a window is. When several windows cover an instant, the most restrictive wins.
public enum WindowRule: String, Sendable, CaseIterable, Codable, Comparable {
    case never, avoid, restricted, open, optimal

    /// never (most restrictive) … optimal (least).
    var severity: Int { WindowRule.allCases.firstIndex(of: self)! }

    public static func < (a: WindowRule, b: WindowRule) -> Bool { a.severity < b.severity }
}

/// One named window: on which days, at which times, and its rule.
public struct ProcessingWindow: Sendable, Equatable {
    public enum Days: Sendable, Equatable {
        case all, workdays, weekends, holidays
        /// 0 = Sunday … 6 = Saturday.
        case weekdays(Set<Int>)
    }

    public let name: String
    public let days: Days
    /// Days of the month, as a possibly wrapping range: (25, 5) is the 25th to the 5th.
    public let monthDays: (from: Int, to: Int)?
    /// Minutes since midnight, start inclusive, end exclusive (end ≤ 1440).
    public let start: Int
    public let end: Int
    public let rule: WindowRule

    public init(name: String, days: Days, monthDays: (from: Int, to: Int)? = nil, start: Int, end: Int, rule: WindowRule) {
        self.name = name
        self.days = days
        self.monthDays = monthDays
        self.start = start
        self.end = end
        self.rule = rule
    }

    public static func == (a: ProcessingWindow, b: ProcessingWindow) -> Bool {
        a.name == b.name && a.days == b.days && a.monthDays?.from == b.monthDays?.from && a.monthDays?.to == b.monthDays?.to
            && a.start == b.start && a.end == b.end && a.rule == b.rule
    }

    func applies(to date: LocalDate, kind: HolidayCalendar.DayKind) -> Bool {
        switch days {
        case .all: break
        case .workdays: guard kind.isWorkday else { return false }
        case .weekends:
            guard !kind.isWorkday, date.weekday == 0 || date.weekday == 6 else { return false }
        case .holidays: guard kind.isHoliday else { return false }
        case let .weekdays(set): guard set.contains(date.weekday) else { return false }
        }
        if let (from, to) = monthDays {
            let inRange = from <= to ? (from...to).contains(date.day) : (date.day >= from || date.day <= to)
            guard inRange else { return false }
        }
        return true
    }

    func covers(minute: Int) -> Bool { minute >= start && minute < end }

    /// e.g. "08:00–18:00 on workdays".
    public var summary: String {
        func hm(_ m: Int) -> String { String(format: "%02d:%02d", m / 60, m % 60) }
        let dayText: String
        switch days {
        case .all: dayText = "every day"
        case .workdays: dayText = "workdays"
        case .weekends: dayText = "weekends"
        case .holidays: dayText = "holidays"
        case let .weekdays(set): dayText = set.sorted().map { CronExpression.dayNames[$0].capitalized }.joined(separator: ", ")
        }
        let monthText = monthDays.map { " from the \($0.from)\(ordinal($0.from)) to the \($0.to)\(ordinal($0.to))" } ?? ""
        return "\(hm(start))–\(hm(end)) on \(dayText)\(monthText)"
    }
}

func ordinal(_ n: Int) -> String {
    if (11...13).contains(n % 100) { return "th" }
    switch n % 10 { case 1: return "st"; case 2: return "nd"; case 3: return "rd"; default: return "th" }
}

/// The answer to "may a job of this priority start now?".
///
/// Immutable, its fields in one shared box: a plan keeps one per job, and copies are one
/// reference count.
public struct WindowDecision: Sendable, Equatable {
    public enum Verdict: Sendable, Equatable {
        case allowed
        case deferred(until: Date)
        case notAllowed
    }

    private final class Storage: Sendable {
        let verdict: Verdict
        let priority: Priority
        let rule: WindowRule
        let window: ProcessingWindow?
        let allowedUnderRule: Set<Priority>
        let nextRule: WindowRule?
        let nextWindow: ProcessingWindow?
        let zone: TimeZone
        let horizonDays: Int
        let calendarWarning: String?

        init(verdict: Verdict, priority: Priority, rule: WindowRule, window: ProcessingWindow?, allowedUnderRule: Set<Priority>,
             nextRule: WindowRule?, nextWindow: ProcessingWindow?, zone: TimeZone, horizonDays: Int, calendarWarning: String?) {
            self.verdict = verdict
            self.priority = priority
            self.rule = rule
            self.window = window
            self.allowedUnderRule = allowedUnderRule
            self.nextRule = nextRule
            self.nextWindow = nextWindow
            self.zone = zone
            self.horizonDays = horizonDays
            self.calendarWarning = calendarWarning
        }
    }

    private let storage: Storage

    init(verdict: Verdict, priority: Priority, rule: WindowRule, window: ProcessingWindow?, allowedUnderRule: Set<Priority>,
         nextRule: WindowRule?, nextWindow: ProcessingWindow?, zone: TimeZone, horizonDays: Int, calendarWarning: String?) {
        storage = Storage(verdict: verdict, priority: priority, rule: rule, window: window, allowedUnderRule: allowedUnderRule,
                          nextRule: nextRule, nextWindow: nextWindow, zone: zone, horizonDays: horizonDays, calendarWarning: calendarWarning)
    }

    public var verdict: Verdict { storage.verdict }
    public var priority: Priority { storage.priority }
    /// The rule in force at the instant asked about, and the window that set it (nil: no window).
    public var rule: WindowRule { storage.rule }
    public var window: ProcessingWindow? { storage.window }
    /// Who lets whom start under `rule`.
    var allowedUnderRule: Set<Priority> { storage.allowedUnderRule }
    /// For a deferral: the rule and window in force when the job may start.
    var nextRule: WindowRule? { storage.nextRule }
    var nextWindow: ProcessingWindow? { storage.nextWindow }
    var zone: TimeZone { storage.zone }
    var horizonDays: Int { storage.horizonDays }
    var calendarWarning: String? { storage.calendarWarning }

    public static func == (a: WindowDecision, b: WindowDecision) -> Bool {
        a.verdict == b.verdict && a.priority == b.priority && a.rule == b.rule && a.window == b.window
    }

    public var windowName: String? { window?.name }

    /// The decision in words an operator understands (formatted on demand).
    public var reason: String {
        let describe = window.map { "\($0.name) (\($0.summary)) is \(rule.rawValue)" } ?? "no window applies (open)"
        let note = calendarWarning.map { " [\($0)]" } ?? ""
        let allowedText = allowedUnderRule.sorted().map(\.description).joined(separator: ", ")
        let lets = allowedText.isEmpty ? "which lets nothing start" : "which lets only \(allowedText) start"
        switch verdict {
        case .allowed:
            return "allowed: \(describe), which lets \(priority) start\(note)"
        case let .deferred(until):
            let then = nextWindow.map { "\($0.name), \(nextRule?.rawValue ?? "")" } ?? "open"
            return "deferred until \(until.iso8601(in: zone)) (\(then)): \(describe), \(lets)\(note)"
        case .notAllowed:
            return "not allowed: \(describe), \(lets), and no window in the next \(horizonDays) days lets \(priority) start\(note)"
        }
    }
}

/// The configured windows, the rule → priorities table and the calendar; answers window questions.
public struct WindowSet: Sendable {
    public let windows: [ProcessingWindow]
    /// Which priorities each rule lets start.
    public let allowed: [WindowRule: Set<Priority>]
    public let calendar: HolidayCalendar
    public let zone: TimeZone
    /// How far ahead to look for an allowed instant before answering "not allowed".
    public let horizonDays: Int
    /// Minutes of the day where some window starts or ends: the rule can only change there.
    let boundaries: [Int]
    /// The zone's offsets, read once.
    let offsets: ZoneOffsets

    public static let defaultAllowed: [WindowRule: Set<Priority>] = [
        .never: [], .avoid: [.p1, .p2], .restricted: [.p1, .p2, .p3], .open: [.p1, .p2, .p3], .optimal: [.p1, .p2, .p3, .p4],
    ]

    public init(windows: [ProcessingWindow], allowed: [WindowRule: Set<Priority>] = WindowSet.defaultAllowed,
                calendar: HolidayCalendar, zone: TimeZone, horizonDays: Int = 14) {
        self.windows = windows
        self.allowed = allowed
        self.calendar = calendar
        self.zone = zone
        offsets = ZoneOffsets(zone)
        self.horizonDays = horizonDays
        boundaries = Array(Set([0] + windows.flatMap { [$0.start, $0.end % 1440] })).sorted()
    }

    /// The rule in force at a wall-clock time, with the deciding window.
    public func rule(at local: LocalDateTime) -> (rule: WindowRule, window: ProcessingWindow?) {
        let kind = calendar.kind(of: local.date)
        var best: ProcessingWindow?
        for window in windows where window.covers(minute: local.minute) && window.applies(to: local.date, kind: kind) {
            if best == nil || window.rule < best!.rule { best = window }
        }
        return (best?.rule ?? .open, best)
    }

    func permits(_ priority: Priority, _ rule: WindowRule) -> Bool { allowed[rule]?.contains(priority) ?? false }

    /// May a job of `priority` start at `instant`? If not, when is the first instant it may.
    public func decide(_ priority: Priority, at instant: Date) -> WindowDecision {
        decide(priority, at: LocalDateTime(instant, in: offsets))
    }

    /// The rule at `instant` and the instant it may next change: the next window boundary (a new
    /// day is one). Sooner when the zone's offset changes before it: then the instant itself, so
    /// nothing is reused across a clock change.
    func ruleStretch(from instant: Date) -> (rule: WindowRule, until: Date) {
        let local = LocalDateTime(instant, in: offsets)
        let next = boundaries.first { $0 > local.minute }.map { LocalDateTime(date: local.date, minute: $0) }
            ?? LocalDateTime(date: local.date.adding(days: 1), minute: 0)
        let until = offsets.instant(of: next)
        return (rule(at: local).rule, offsets.secondsFromGMT(for: until) == offsets.secondsFromGMT(for: instant) ? until : instant)
    }

    private func decide(_ priority: Priority, at local: LocalDateTime) -> WindowDecision {
        let (rule, window) = rule(at: local)
        let allowedNow = allowed[rule] ?? []
        let warning = calendar.coverageWarning(for: local.date)
        func decision(_ verdict: WindowDecision.Verdict, _ nextRule: WindowRule? = nil, _ nextWindow: ProcessingWindow? = nil) -> WindowDecision {
            WindowDecision(verdict: verdict, priority: priority, rule: rule, window: window, allowedUnderRule: allowedNow,
                           nextRule: nextRule, nextWindow: nextWindow, zone: zone, horizonDays: horizonDays, calendarWarning: warning)
        }
        if allowedNow.contains(priority) { return decision(.allowed) }
        if let (next, nextRule, nextWindow) = firstPermitted(priority, after: local) {
            return decision(.deferred(until: next), nextRule, nextWindow)
        }
        return decision(.notAllowed)
    }

    /// The first instant in [from, to) whose rule satisfies `matches` (nil: none). Steps through
    /// the window boundaries, where the rule can change.
    public func firstInstant(from: Date, to: Date, where matches: (WindowRule) -> Bool) -> Date? {
        guard from < to else { return nil }
        let local = LocalDateTime(from, in: offsets)
        if matches(rule(at: local).rule) { return from }
        let days = max(0, LocalDateTime(to, in: offsets).date.dayNumber - local.date.dayNumber)
        for offset in 0...days {
            let day = local.date.adding(days: offset)
            for minute in boundaries where offset > 0 || minute > local.minute {
                let candidate = LocalDateTime(date: day, minute: minute)
                let instant = offsets.instant(of: candidate)
                if instant >= to { return nil }
                if matches(rule(at: candidate).rule) { return instant }
            }
        }
        return nil
    }

    /// The first instant in (start, end) at which a running job of `priority` is no longer let
    /// run (nil: it may run throughout).
    public func firstDisallowed(_ priority: Priority, from start: Date, to end: Date) -> Date? {
        firstInstant(from: start, to: end) { !permits(priority, $0) }
    }

    /// A `never` window that a job started at `start` and running `seconds` would run into:
    /// when it begins and when the rule stops being `never` again (nil: none).
    public func neverWindowAhead(from start: Date, seconds: Int) -> (begins: Date, ends: Date)? {
        guard let begins = firstInstant(from: start, to: start.addingTimeInterval(TimeInterval(max(seconds, 1))), where: { $0 == .never })
        else { return nil }
        let horizon = begins.addingTimeInterval(TimeInterval(horizonDays * 86400))
        return (begins, firstInstant(from: begins, to: horizon) { $0 != .never } ?? horizon)
    }

    /// Steps through the window boundaries of each day (the rule only changes there).
    func firstPermitted(_ priority: Priority, after local: LocalDateTime) -> (Date, WindowRule, ProcessingWindow?)? {
        for offset in 0...horizonDays {
            let day = local.date.adding(days: offset)
            for minute in boundaries where offset > 0 || minute > local.minute {
                let candidate = LocalDateTime(date: day, minute: minute)
                let (rule, window) = rule(at: candidate)
                if permits(priority, rule) { return (offsets.instant(of: candidate), rule, window) }
            }
        }
        return nil
    }
}

/// Window decisions reused while they hold: the rule, and so every decision, only changes at a
/// window boundary. The planner decides about 10,000 times a night; most instants share a stretch
/// between two boundaries.
public struct WindowMemo: Sendable {
    private var stretch: (from: Date, until: Date, rule: WindowRule)?
    private var decisions: [WindowDecision?] = [nil, nil, nil, nil]

    public init() {}

    /// The rule at `instant` and until when it holds.
    mutating func rule(at instant: Date, in windows: WindowSet) -> (rule: WindowRule, until: Date) {
        if let stretch, stretch.from <= instant, instant < stretch.until { return (stretch.rule, stretch.until) }
        let (rule, until) = windows.ruleStretch(from: instant)
        stretch = (instant, until, rule)
        decisions = [nil, nil, nil, nil]
        return (rule, until)
    }

    mutating func decide(_ priority: Priority, at instant: Date, in windows: WindowSet) -> WindowDecision {
        let (_, until) = rule(at: instant, in: windows)
        if let known = decisions[priority.rawValue - 1] { return known }
        let decided = windows.decide(priority, at: instant)
        // Held only for a stretch longer than an instant (not across a change of offset).
        if until > instant { decisions[priority.rawValue - 1] = decided }
        return decided
    }
}
