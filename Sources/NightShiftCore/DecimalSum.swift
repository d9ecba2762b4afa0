/// An exact sum of decimal numbers as PostgreSQL prints them (`-1234.50`, `7`, `0.125`): the
/// control totals of fixed-width files and the totals of HTML reports must match the cents the
/// accounting office adds up, which binary floating point does not promise.
public struct DecimalSum: Sendable, Equatable {
    /// The sum in units of 10^-scale.
    private var units: Int = 0
    private var scale: Int = 0
    public private(set) var count = 0

    public init() {}

    public struct Problem: Error, Equatable, CustomStringConvertible {
        public let value: String
        public let reason: String
        public var description: String { "`\(value)` cannot be totalled: \(reason)" }
    }

    /// Adds one value; nil and empty text (SQL NULL) add nothing.
    public mutating func add(_ text: String?) throws {
        guard let text, !text.isEmpty else { return }
        var digits = Substring(text)
        var negative = false
        if digits.first == "-" || digits.first == "+" {
            negative = digits.first == "-"
            digits = digits.dropFirst()
        }
        let parts = digits.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !digits.isEmpty, parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let whole = Int(parts[0].isEmpty ? "0" : parts[0]) else {
            throw Problem(value: text, reason: "it is not a decimal number")
        }
        let fraction = parts.count > 1 ? parts[1] : ""
        guard fraction.count <= 12 else { throw Problem(value: text, reason: "more than 12 decimal places") }
        if fraction.count > scale {
            let (scaled, overflow) = units.multipliedReportingOverflow(by: Self.power(fraction.count - scale))
            guard !overflow else { throw Problem(value: text, reason: "the total passes the 64-bit range") }
            units = scaled
            scale = fraction.count
        }
        let padded = fraction + String(repeating: "0", count: scale - fraction.count)
        let (wholeUnits, o1) = whole.multipliedReportingOverflow(by: Self.power(scale))
        let (value, o2) = wholeUnits.addingReportingOverflow(Int(padded.isEmpty ? "0" : padded) ?? 0)
        let (sum, o3) = units.addingReportingOverflow(negative ? -value : value)
        guard !o1, !o2, !o3 else { throw Problem(value: text, reason: "the total passes the 64-bit range") }
        units = sum
        count += 1
    }

    /// The total with as many decimals as the most precise value added (`1234.50`).
    public var text: String {
        let magnitude = units.magnitude
        let divisor = UInt(Self.power(scale))
        let whole = magnitude / divisor
        var result = (units < 0 ? "-" : "") + String(whole)
        if scale > 0 {
            let fraction = String(magnitude % divisor)
            result += "." + String(repeating: "0", count: scale - fraction.count) + fraction
        }
        return result
    }

    private static func power(_ exponent: Int) -> Int {
        var result = 1
        for _ in 0..<exponent { result *= 10 }
        return result
    }
}
