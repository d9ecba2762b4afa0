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
