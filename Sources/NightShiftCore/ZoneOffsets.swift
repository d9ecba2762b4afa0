import Foundation

/// A time zone's UTC offsets, read once and then looked up by binary search.
///
/// Asking `TimeZone` goes through ICU and takes a lock each time (~0.4 µs); the planner asks
/// tens of thousands of times per plan. The offsets between 1970 and 2100 are read once from the
/// zone's transitions (Asia/Taipei has six, New York about 260); instants outside that span are
/// still asked of the zone.
public struct ZoneOffsets: Sendable {
    public let zone: TimeZone
    /// Seconds since 1970 at which the offset changes, ascending.
    private let transitions: [Double]
    /// `offsets[k]` is in force from `transitions[k - 1]` (`offsets[0]` before the first).
    private let offsets: [Int]
    private static let first = 0.0 // 1970-01-01
    private static let last = 4_102_444_800.0 // 2100-01-01

    public init(_ zone: TimeZone) {
        self.zone = zone
        var transitions: [Double] = []
        var offsets = [zone.secondsFromGMT(for: Date(timeIntervalSince1970: Self.first))]
        var after = Date(timeIntervalSince1970: Self.first)
        while let next = zone.nextDaylightSavingTimeTransition(after: after), next.timeIntervalSince1970 < Self.last, next > after {
            transitions.append(next.timeIntervalSince1970)
            offsets.append(zone.secondsFromGMT(for: next))
            after = next
        }
        self.transitions = transitions
        self.offsets = offsets
    }

    public func secondsFromGMT(for instant: Date) -> Int {
        let t = instant.timeIntervalSince1970
        guard t >= Self.first, t < Self.last else { return zone.secondsFromGMT(for: instant) }
        var low = 0, high = transitions.count // the number of transitions at or before t
        while low < high {
            let mid = (low + high) / 2
            if transitions[mid] <= t { low = mid + 1 } else { high = mid }
        }
        return offsets[low]
    }

    /// The instant a wall-clock time happens, under NightShift's DST policy (`TimeZone.instant(of:)`).
    public func instant(of local: LocalDateTime) -> Date {
        LocalDateTime.instant(of: local, offset: secondsFromGMT(for:))
    }
}
