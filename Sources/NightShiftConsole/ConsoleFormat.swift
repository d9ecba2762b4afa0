import Foundation
import NightShiftCore

/// How the console writes times and durations: the business time zone, minutes.
enum ConsoleFormat {
    /// `02:14`.
    static func time(_ date: Date?, _ zone: TimeZone) -> String {
        guard let date else { return "" }
        let local = LocalDateTime(date, in: zone)
        return String(format: "%02d:%02d", local.minute / 60, local.minute % 60)
    }

    /// `2026-11-23 02:14`.
    static func dateTime(_ date: Date?, _ zone: TimeZone) -> String {
        guard let date else { return "" }
        let local = LocalDateTime(date, in: zone)
        return "\(local.date) " + time(date, zone)
    }

    /// `11-23 02:14`, shorter for tables.
    static func short(_ date: Date?, _ zone: TimeZone) -> String {
        guard let date else { return "" }
        return String(dateTime(date, zone).dropFirst(5))
    }

    /// A wall-clock instant (session expiry, heartbeats): not the runner's clock.
    static func realTime(_ date: Date, _ zone: TimeZone) -> String { dateTime(date, zone) }

    /// `45 s`, `12 min`, `2 h 05 min`; negative with a minus sign.
    static func duration(_ seconds: Double) -> String {
        if seconds < 0 { return "-" + duration(-seconds) }
        let whole = Int(seconds.rounded())
        if whole < 60 { return "\(whole) s" }
        if whole < 3600 { return "\(whole / 60) min" }
        return String(format: "%d h %02d min", whole / 3600, (whole % 3600) / 60)
    }

    /// nil for an empty text: a Mustache section `{{#key}}` treats "" as true, nil as absent.
    static func nonEmpty(_ text: String?) -> String? { text?.isEmpty == false ? text : nil }
}
