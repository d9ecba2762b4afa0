/// P1 (critical) … P4 (low). A smaller raw value is more urgent.
public enum Priority: Int, Sendable, CaseIterable, Comparable, Codable, CustomStringConvertible {
    case p1 = 1, p2, p3, p4

    /// Accepts `P1`…`P4`, `1`…`4`, or the names `critical`, `high`, `normal`, `low`.
    public init?(text: String) {
        switch text.lowercased() {
        case "p1", "1", "critical": self = .p1
        case "p2", "2", "high": self = .p2
        case "p3", "3", "normal": self = .p3
        case "p4", "4", "low": self = .p4
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .p1: "critical"
        case .p2: "high"
        case .p3: "normal"
        case .p4: "low"
        }
    }

    public var description: String { "P\(rawValue)" }

    public static func < (a: Priority, b: Priority) -> Bool { a.rawValue < b.rawValue }
}
