import Foundation

/// What to do about fire times that passed while the runner was down.
public enum MisfirePolicy: Sendable, Equatable {
    /// Drop missed occurrences; wait for the next one.
    case skip
    /// Run once now for the most recent missed occurrence.
    case runOnce
    /// Run every missed occurrence, oldest first, but at most `limit` (the most recent ones).
    case runAll(limit: Int)

    public struct Resolution: Sendable, Equatable {
        /// Scheduled instants to run now, oldest first.
        public let run: [Date]
        /// How many missed occurrences are dropped.
        public let dropped: Int
        public let reason: String
    }

    /// Pure: from the last fired instant and the current one. Occurrences at most `grace` seconds
    /// late are not misfires and always run. With no `lastFired` (first start) nothing is missed.
    /// Enumerates at most 10,000 occurrences.
    public func resolve(schedule: CronExpression, zone: TimeZone, lastFired: Date?, now: Date, grace: TimeInterval) -> Resolution {
        guard let lastFired else { return Resolution(run: [], dropped: 0, reason: "first start: nothing was missed") }
        var due: [Date] = []
        var cursor = lastFired
        while due.count < 10_000, let next = schedule.next(after: cursor, in: zone), next <= now {
            due.append(next)
            cursor = next
        }
        return resolve(due: due, now: now, grace: grace)
    }

    /// Pure: which of the `due` instants (oldest first, all at or before `now`) run now. Those at
    /// most `grace` seconds late always run; the policy decides about the older ones.
    public func resolve(due: [Date], now: Date, grace: TimeInterval) -> Resolution {
        let onTime = due.filter { now.timeIntervalSince($0) <= grace }
        let missed = due.filter { now.timeIntervalSince($0) > grace }
        if missed.isEmpty {
            return Resolution(run: onTime, dropped: 0, reason: onTime.isEmpty ? "nothing due" : "due within the grace period")
        }
        switch self {
        case .skip:
            return Resolution(run: onTime, dropped: missed.count,
                              reason: "misfire policy skip: \(missed.count) missed occurrence\(missed.count == 1 ? "" : "s") dropped")
        case .runOnce:
            return Resolution(run: onTime.isEmpty ? [missed.last!] : onTime, dropped: onTime.isEmpty ? missed.count - 1 : missed.count,
                              reason: "misfire policy run_once: the latest missed occurrence runs once")
        case let .runAll(limit):
            let kept = Array(missed.suffix(max(0, limit - onTime.count)))
            return Resolution(run: kept + onTime, dropped: missed.count - kept.count,
                              reason: "misfire policy run_all: \(kept.count) missed occurrence\(kept.count == 1 ? "" : "s") run (limit \(limit))")
        }
    }
}
