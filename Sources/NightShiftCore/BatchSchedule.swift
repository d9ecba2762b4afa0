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
