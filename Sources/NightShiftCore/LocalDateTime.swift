import Foundation

/// A wall-clock date and minute in some zone, without the zone.
public struct LocalDateTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let date: LocalDate
    /// Minutes since local midnight, 0..<1440.
    public let minute: Int

    public init(date: LocalDate, minute: Int) {
        self.date = date
        self.minute = minute
    }

    public init(date: LocalDate, hour: Int, minute: Int) {
        self.init(date: date, minute: hour * 60 + minute)
    }

    /// The wall-clock reading of `instant` in `zone` (seconds dropped).
    public init(_ instant: Date, in zone: TimeZone) {
        self.init(instant, offset: zone.secondsFromGMT(for: instant))
    }

    /// The wall-clock reading of `instant`, through offsets read once (see `ZoneOffsets`).
    public init(_ instant: Date, in offsets: ZoneOffsets) {
        self.init(instant, offset: offsets.secondsFromGMT(for: instant))
    }

    private init(_ instant: Date, offset: Int) {
        let seconds = Int(instant.timeIntervalSince1970.rounded(.down)) + offset
        let days = Int((Double(seconds) / 86_400).rounded(.down))
        date = LocalDate(dayNumber: days)
        minute = (seconds - days * 86_400) / 60
    }

    public var hour: Int { minute / 60 }

    /// Seconds since the epoch if this wall time were UTC.
    var wallSeconds: Int { date.dayNumber * 86_400 + minute * 60 }

    public var description: String { String(format: "%@ %02d:%02d", date.description, minute / 60, minute % 60) }

    public static func < (a: LocalDateTime, b: LocalDateTime) -> Bool {
        (a.date, a.minute) < (b.date, b.minute)
    }
}

extension TimeZone {
    /// The instant a wall-clock time happens in this zone, under NightShift's DST policy:
    /// - a time that happens twice (fall-back overlap) resolves to its **first** occurrence;
    /// - a time that never happens (spring-forward gap) resolves to the **first valid instant
    ///   after it**, i.e. the moment the clocks jump (02:30 in New York on a spring-forward day →
    ///   03:00 EDT).
    public func instant(of local: LocalDateTime) -> Date {
        LocalDateTime.instant(of: local, offset: secondsFromGMT(for:))
    }
}

extension LocalDateTime {
    /// `TimeZone.instant(of:)` over any source of UTC offsets.
    static func instant(of local: LocalDateTime, offset secondsFromGMT: (Date) -> Int) -> Date {
        let wall = local.wallSeconds
        let before = secondsFromGMT(Date(timeIntervalSince1970: TimeInterval(wall - 86_400)))
        let after = secondsFromGMT(Date(timeIntervalSince1970: TimeInterval(wall + 86_400)))
        // No offset change within a day either side (no zone changes twice in two days): one answer.
        if before == after, secondsFromGMT(Date(timeIntervalSince1970: TimeInterval(wall - before))) == before {
            return Date(timeIntervalSince1970: TimeInterval(wall - before))
        }
        var valid: [Int] = []
        for offset in Set([before, after]) {
            let candidate = wall - offset
            if secondsFromGMT(Date(timeIntervalSince1970: TimeInterval(candidate))) == offset { valid.append(candidate) }
        }
        if let first = valid.min() { return Date(timeIntervalSince1970: TimeInterval(first)) }
        // In a gap: the clocks jumped somewhere between these two readings; find the jump.
        var low = wall - max(before, after), high = wall - min(before, after)
        let startOffset = secondsFromGMT(Date(timeIntervalSince1970: TimeInterval(low)))
        while high - low > 1 {
            let mid = (low + high) / 2
            if secondsFromGMT(Date(timeIntervalSince1970: TimeInterval(mid))) == startOffset { low = mid } else { high = mid }
        }
        return Date(timeIntervalSince1970: TimeInterval(high))
    }
}

extension Date {
    /// ISO 8601 in `zone` with its offset, e.g. `2026-11-23T02:00:00+08:00` (`Z` for UTC).
    /// RFC 3339 in `zone`, whole seconds, as ISO8601DateFormatter's internet date-time writes it
    /// ("Z" for UTC); formatted by hand because a formatter costs more than a whole plan step.
    public func iso8601(in zone: TimeZone) -> String {
        let offset = zone.secondsFromGMT(for: self)
        // Whole seconds of the instant rounded to the millisecond, as the formatter does.
        let seconds = Int(((timeIntervalSince1970 * 1000).rounded() / 1000).rounded(.down)) + offset
        let days = Int((Double(seconds) / 86_400).rounded(.down))
        let date = LocalDate(dayNumber: days)
        let second = seconds - days * 86_400
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var text = "\(date)T\(two(second / 3600)):\(two(second / 60 % 60)):\(two(second % 60))"
        if offset == 0 {
            text += "Z"
        } else {
            let magnitude = abs(offset) / 60
            text += (offset < 0 ? "-" : "+") + two(magnitude / 60) + ":" + two(magnitude % 60)
        }
        return text
    }
}
