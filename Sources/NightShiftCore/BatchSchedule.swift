import Foundation

/// When a batch fires and what it may take (etc/nightshift.yaml `batches:`).
public struct BatchSchedule: Sendable, Equatable {
    public let batch: BatchKind
    public let cron: CronExpression
    /// How long after the fire time the batch must be finished.
    public let windowSeconds: Int
    /// The priority of the batch's jobs that do not declare one.
    public let priority: Priority
    public let retries: Int
    public let holidayPolicy: HolidayPolicy
    public let misfire: MisfirePolicy
    public let graceSeconds: Int

    public init(batch: BatchKind, cron: CronExpression, windowSeconds: Int, priority: Priority, retries: Int,
                holidayPolicy: HolidayPolicy, misfire: MisfirePolicy, graceSeconds: Int) {
        self.batch = batch
        self.cron = cron
        self.windowSeconds = windowSeconds
        self.priority = priority
        self.retries = retries
        self.holidayPolicy = holidayPolicy
        self.misfire = misfire
        self.graceSeconds = graceSeconds
    }

    /// DESIGN defaults: daily 02:00 (4 h, normal), weekly Sunday 01:00 (8 h, low), monthly on the
    /// 1st 00:00 (12 h, high), year-end 31 Dec 22:00 (24 h, critical); 3 retries each.
    public static func defaults(_ batch: BatchKind) -> BatchSchedule {
        let (cron, hours, priority): (String, Int, Priority) = switch batch {
        case .daily: ("0 2 * * *", 4, .p3)
        case .weekly: ("0 1 * * SUN", 8, .p4)
        case .monthly: ("0 0 1 * *", 12, .p2)
        case .yearend: ("0 22 31 12 *", 24, .p1)
        }
        return BatchSchedule(batch: batch, cron: try! CronExpression(cron), windowSeconds: hours * 3600, priority: priority,
                             retries: 3, holidayPolicy: .run, misfire: .runOnce, graceSeconds: 3600)
    }
}

extension BatchSchedule {
    /// The next run after `instant`, with the holiday policy applied: skipped dates move on to the
    /// next fire time; moved dates keep the wall-clock time. `note` says what the policy did.
    public func nextRun(after instant: Date, calendar: HolidayCalendar, zone: TimeZone) -> (instant: Date, note: String)? {
        var cursor = instant
        var skippedDates: [LocalDate] = []
        for _ in 0..<400 {
            guard let fire = cron.next(after: cursor, in: zone) else { return nil }
            let local = LocalDateTime(fire, in: zone)
            let kind = calendar.kind(of: local.date)
            guard case let .holiday(name) = kind else {
                let note = skippedDates.isEmpty ? "" : "skipped holidays \(skippedDates.map(\.description).joined(separator: ", ")); "
                return (fire, note + (calendar.coverageWarning(for: local.date) ?? "on schedule"))
            }
            switch holidayPolicy.apply(to: local.date, calendar: calendar) {
            case nil:
                skippedDates.append(local.date)
                cursor = fire
            case let moved? where moved == local.date:
                return (fire, "\(local.date) is a holiday (\(name)); holiday policy run")
            case let moved?:
                let movedInstant = zone.instant(of: LocalDateTime(date: moved, minute: local.minute))
                return (movedInstant, "\(local.date) is a holiday (\(name)); holiday policy \(holidayPolicy.rawValue) moves it to \(moved)")
            }
        }
        return nil
    }
}

/// One occurrence of a batch: the instant it runs for (holiday policy applied) and what the
/// policies did to it.
public struct BatchOccurrence: Sendable, Equatable {
    public let instant: Date
    public let note: String
}

extension BatchSchedule {
    /// Occurrences whose instant (holiday policy applied) lies in `(after, through]`, oldest first,
    /// each instant once. A moved occurrence counts where it lands: with next_workday a fire time
    /// before `after` can land inside the range, with previous_workday one after `through` can.
    public func occurrences(after: Date, through: Date, calendar: HolidayCalendar, zone: TimeZone,
                            limit: Int = 10_000) -> [BatchOccurrence] {
        guard after < through else { return [] }
        let reach: TimeInterval = 14 * 86_400 // a holiday run longer than two weeks is not moved across the range edge
        let from = holidayPolicy == .nextWorkday ? after.addingTimeInterval(-reach) : after
        let to = holidayPolicy == .previousWorkday ? through.addingTimeInterval(reach) : through
        var found: [Date: String] = [:]
        var cursor = from
        var steps = 0
        while steps < limit, let fire = cron.next(after: cursor, in: zone), fire <= to {
            steps += 1
            cursor = fire
            let local = LocalDateTime(fire, in: zone)
            var instant = fire
            var note = calendar.coverageWarning(for: local.date) ?? "on schedule"
            if case let .holiday(name) = calendar.kind(of: local.date) {
                guard let moved = holidayPolicy.apply(to: local.date, calendar: calendar) else { continue }
                if moved == local.date {
                    note = "\(local.date) is a holiday (\(name)); holiday policy run"
                } else {
                    instant = zone.instant(of: LocalDateTime(date: moved, minute: local.minute))
                    note = "\(local.date) is a holiday (\(name)); holiday policy \(holidayPolicy.rawValue) moves it to \(moved)"
                }
            }
            if instant > after && instant <= through && found[instant] == nil { found[instant] = note }
        }
        return found.keys.sorted().map { BatchOccurrence(instant: $0, note: found[$0]!) }
    }

    /// What the scheduler fires at `now`, having evaluated the schedule up to `cursor` (nil: the
    /// runner never ran this schedule; then only occurrences within the grace period count).
    /// Holiday policy first, then the misfire policy on the occurrences that are late.
    public func due(cursor: Date?, now: Date, calendar: HolidayCalendar, zone: TimeZone)
        -> (run: [BatchOccurrence], dropped: Int, reason: String) {
        let from = cursor ?? now.addingTimeInterval(-TimeInterval(graceSeconds))
        let candidates = occurrences(after: from, through: now, calendar: calendar, zone: zone)
        let resolution = misfire.resolve(due: candidates.map(\.instant), now: now, grace: TimeInterval(graceSeconds))
        let chosen = Set(resolution.run)
        return (candidates.filter { chosen.contains($0.instant) }, resolution.dropped, resolution.reason)
    }
}
