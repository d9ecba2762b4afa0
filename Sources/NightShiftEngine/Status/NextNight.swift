import Foundation
import NightShiftConfig
import NightShiftCore
import PostgresClient

/// The next scheduled night: the daily batch's next occurrence after `now`, with the other batches
/// scheduled within its window sharing the slots, planned by `Planner.plan` with each job's history
/// and the day's overrides — what `plan` shows for that instant. `extra` adds occurrences (a
/// backfill's runs) to see what they would do to it.
public struct NextNight: Sendable {
    public let start: Date
    /// Why it starts then (on schedule, moved for a holiday, …).
    public let note: String
    public let businessDate: LocalDate
    /// The other batches of that night: (batch, instant).
    public let others: [(BatchKind, Date)]
    public let plan: Plan

    public static func plan(db: PostgresConnection, configuration: Configuration, now: Date, extra: [PlanOccurrence] = []) throws -> NextNight? {
        let zone = configuration.settings.timeZone
        let daily = configuration.schedule(.daily)
        guard let next = daily.nextRun(after: now, calendar: configuration.windows.calendar, zone: zone) else { return nil }
        let windowEnd = next.instant.addingTimeInterval(TimeInterval(daily.windowSeconds))
        let others = BatchKind.allCases.filter { $0 != .daily }.compactMap { kind -> (BatchKind, Date)? in
            guard let run = configuration.schedule(kind).nextRun(after: now, calendar: configuration.windows.calendar, zone: zone),
                  run.instant < windowEnd else { return nil }
            return (kind, run.instant)
        }
        let jobs = configuration.jobs(in: .daily)
        let all = jobs + others.flatMap { configuration.jobs(in: $0.0) } + extra.flatMap(\.jobs)
        let history = try RunHistory.durations(db: db, jobs: Array(Set(all.map(\.name))))
        let businessDate = BatchKind.daily.businessDate(at: next.instant, in: zone)
        let overrides = try OverrideStore(db: db).overrides(batch: .daily, businessDate: businessDate).map(\.override)
        let plan = try Planner.plan(PlanRequest(batch: .daily, jobs: jobs, start: next.instant, schedule: daily, windows: configuration.windows,
                                                policy: configuration.priorityPolicy, history: history, overrides: overrides,
                                                slots: configuration.settings.concurrentJobs,
                                                others: others.map { PlanOccurrence(batch: $0.0, start: $0.1, jobs: configuration.jobs(in: $0.0)) } + extra,
                                                maxBatches: configuration.settings.maxConcurrentBatches))
        return NextNight(start: next.instant, note: next.note, businessDate: businessDate, others: others, plan: plan)
    }
}

/// What a backfill would do to the next night: the night planned without it and with its runs
/// (one per business date, every job at P4, queued now, run only where the windows let P4 run).
public struct BackfillForecast: Sendable {
    public let without: NextNight
    public let with: NextNight
    public let dates: [LocalDate]
    /// Its first and last business dates.
    public let from: LocalDate
    public let to: LocalDate
    /// When the backfill's last job is planned to end (nil: none of its jobs can run in the plan's horizon).
    public let backfillFinish: Date?
    /// Its jobs the plan cannot run (no window lets P4 run).
    public let blocked: Int

    public static let maxDates = 93

    public static func forecast(db: PostgresConnection, configuration: Configuration, now: Date, batch: BatchKind,
                                from: LocalDate, to: LocalDate) throws -> BackfillForecast? {
        guard from <= to, to.dayNumber - from.dayNumber < maxDates else { return nil }
        let dates = (from.dayNumber...to.dayNumber).map { LocalDate(dayNumber: $0) }
        let jobs = configuration.jobs(in: batch).map { $0.with(priority: .p4) }
        let runs = dates.map { _ in PlanOccurrence(batch: batch, start: now, jobs: jobs) }
        guard let without = try NextNight.plan(db: db, configuration: configuration, now: now),
              let with = try NextNight.plan(db: db, configuration: configuration, now: now, extra: runs) else { return nil }
        let first = 1 + without.others.count
        let mine = with.plan.entries.filter { $0.occurrence >= first }
        let blocked = mine.filter { if case .blocked = $0.status { true } else { false } }.count
        return BackfillForecast(without: without, with: with, dates: dates, from: from, to: to, backfillFinish: mine.compactMap(\.finish).max(), blocked: blocked)
    }

    /// The comparison in a few lines, for `backfill --dry-run` and the console.
    public func lines(zone: TimeZone) -> [String] {
        func at(_ date: Date) -> String { LocalDateTime(date, in: zone).description }
        let change = Int(with.plan.requiredFinish.timeIntervalSince(without.plan.requiredFinish))
        var lines = [
            "The next night: the daily batch for \(without.businessDate) starts \(at(without.start)); its window ends \(at(without.plan.windowEnd)).",
            "Without the backfill its P1–P3 jobs end \(at(without.plan.requiredFinish))" + (without.plan.fitsWindow ? " (fits)" : " (DOES NOT FIT)")
                + "; with it \(at(with.plan.requiredFinish))" + (with.plan.fitsWindow ? " (fits)" : " (DOES NOT FIT)")
                + (change == 0 ? ", no later." : change > 0 ? ", \(change / 60) min later." : ", \(-change / 60) min earlier."),
        ]
        if without.plan.criticalPath != with.plan.criticalPath {
            lines.append("Its critical path becomes " + with.plan.criticalPath.joined(separator: " → ") + " (was "
                + without.plan.criticalPath.joined(separator: " → ") + ").")
        }
        lines.append("The backfill: \(dates.count) run\(dates.count == 1 ? "" : "s") (\(from) to \(to)), every job at P4, "
            + (backfillFinish.map { "planned to end \(at($0))" } ?? "none of it can run in the plan's horizon")
            + (blocked > 0 ? "; \(blocked) of its jobs cannot run there (no window lets P4 run)." : "."))
        return lines
    }
}
