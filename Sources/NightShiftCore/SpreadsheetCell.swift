import Foundation

/// A report value as an Excel cell: typed from its column's SQL type, so numbers are numbers and
/// dates are dates in the workbook. What Excel cannot hold exactly stays text, written as
/// PostgreSQL printed it: a number of more than 15 significant digits (Excel keeps 15), NaN and
/// infinities, a date before 1900 or after 9999, BC dates, `infinity`. A `timestamptz` becomes the
/// wall-clock time in the business time zone (Excel has no time zones); a `timestamp` and a `date`
/// are taken as they read.
public enum SpreadsheetCell: Sendable, Equatable {
    case text(String)
    case number(Double)
    case boolean(Bool)
    case date(year: Int, month: Int, day: Int)
    case dateTime(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Double)

    /// How a column's values are typed, from its SQL type.
    public enum Kind: Sendable, Equatable {
        case text, number, boolean, date, timestamp, timestampWithZone
    }

    /// Excel holds 15 significant decimal digits in a number.
    public static let maxDigits = 15

    /// `text` as PostgreSQL prints a value of `kind` (DateStyle ISO), typed; `zone` is the time zone
    /// a `timestamptz` is shown in.
    public init(_ text: String, kind: Kind, zone: TimeZone) {
        switch kind {
        case .text: self = .text(text)
        case .number: self = Self.number(text).map { .number($0) } ?? .text(text)
        case .boolean: self = text == "t" ? .boolean(true) : text == "f" ? .boolean(false) : .text(text)
        case .date:
            guard let (year, month, day, rest) = Self.date(Substring(text)), rest.isEmpty else { self = .text(text); return }
            self = .date(year: year, month: month, day: day)
        case .timestamp, .timestampWithZone:
            guard let (year, month, day, rest) = Self.date(Substring(text)), rest.first == " ",
                  let (hour, minute, second, zoneText) = Self.time(rest.dropFirst()) else { self = .text(text); return }
            guard kind == .timestampWithZone else {
                guard zoneText.isEmpty else { self = .text(text); return }
                self = .dateTime(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
                return
            }
            guard let offset = Self.offset(zoneText) else { self = .text(text); return }
            // The instant, then its wall-clock reading in `zone`.
            let whole = Int(second.rounded(.down))
            let utc = LocalDate(year: year, month: month, day: day).dayNumber * 86_400 + hour * 3600 + minute * 60 + whole - offset
            let local = utc + zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(utc)))
            let date = LocalDate(dayNumber: Int((Double(local) / 86_400).rounded(.down)))
            let seconds = local - date.dayNumber * 86_400
            guard (1900...9999).contains(date.year) else { self = .text(text); return }
            self = .dateTime(year: date.year, month: date.month, day: date.day, hour: seconds / 3600, minute: seconds % 3600 / 60,
                             second: Double(seconds % 60) + (second - Double(whole)))
        }
    }

    /// A decimal Excel holds exactly (at most 15 significant digits), or a float8/float4 as printed.
    private static func number(_ text: String) -> Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        let scalars = text.unicodeScalars
        if scalars.contains(where: { $0 == "e" || $0 == "E" }) { return value }  // float8/float4: a double already
        guard scalars.allSatisfy({ ("0"..."9").contains($0) || $0 == "." || $0 == "-" || $0 == "+" }) else { return nil }
        var digits = Array(scalars.filter { ("0"..."9").contains($0) || $0 == "." })
        if digits.contains(".") { while digits.last == "0" { digits.removeLast() } }
        digits.removeAll { $0 == "." }
        while digits.first == "0" { digits.removeFirst() }
        while digits.last == "0" && !text.contains(".") && digits.count > maxDigits { digits.removeLast() }
        return digits.count <= maxDigits ? value : nil
    }

    /// `YYYY-MM-DD` at the start of `text`, years 1900–9999, a real calendar day; the rest after it.
    private static func date(_ text: Substring) -> (Int, Int, Int, Substring)? {
        let parts = text.prefix(10)
        guard parts.count == 10, parts.utf8.enumerated().allSatisfy({ i, c in i == 4 || i == 7 ? c == UInt8(ascii: "-") : (48...57).contains(c) }),
              let year = Int(parts.prefix(4)), let month = Int(parts.dropFirst(5).prefix(2)), let day = Int(parts.suffix(2)),
              (1900...9999).contains(year), (1...12).contains(month), (1...LocalDate.daysIn(year: year, month: month)).contains(day) else { return nil }
        return (year, month, day, text.dropFirst(10))
    }

    /// `HH:MM:SS[.ffffff]` at the start of `text`; the rest (a zone offset, or nothing).
    private static func time(_ text: Substring) -> (Int, Int, Double, Substring)? {
        let head = text.prefix(8)
        guard head.count == 8, head.utf8.enumerated().allSatisfy({ i, c in i == 2 || i == 5 ? c == UInt8(ascii: ":") : (48...57).contains(c) }),
              let hour = Int(head.prefix(2)), let minute = Int(head.dropFirst(3).prefix(2)), let whole = Int(head.suffix(2)),
              hour < 24, minute < 60, whole < 60 else { return nil }
        var rest = text.dropFirst(8)
        var second = Double(whole)
        if rest.first == "." {
            let fraction = rest.dropFirst().prefix { $0.isASCII && $0.isNumber }
            guard !fraction.isEmpty, let value = Double("0." + fraction) else { return nil }
            second += value
            rest = rest.dropFirst(1 + fraction.count)
        }
        return (hour, minute, second, rest)
    }

    /// `+HH`, `-HH:MM`, `+HH:MM:SS` in seconds east of UTC.
    private static func offset(_ text: Substring) -> Int? {
        guard let sign = text.first, sign == "+" || sign == "-" else { return nil }
        let fields = text.dropFirst().split(separator: ":", omittingEmptySubsequences: false)
        guard (1...3).contains(fields.count), fields.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isNumber) }) else { return nil }
        let values = fields.compactMap { Int($0) }
        let seconds = values.enumerated().reduce(0) { $0 + $1.element * [3600, 60, 1][$1.offset] }
        return sign == "-" ? -seconds : seconds
    }
}
