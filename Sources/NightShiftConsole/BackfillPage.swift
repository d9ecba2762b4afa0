import Foundation
import NightShiftCore
import NightShiftEngine

/// Backfill: a batch for a range of past business dates, every job at P4, as one request. The dry
/// run (?batch=&from=&to=, read-only) shows what it would do to the next night's forecast
/// (`BackfillForecast`, as `nightshift backfill --dry-run`); asking for it needs a session.
enum BackfillPage {
    static func context(_ page: PageContext) throws -> [String: Any] {
        var context = page.base("Backfill", current: "/backfill")
        let query = page.request.query
        let batch = query["batch"].flatMap(BatchKind.init(rawValue:)) ?? .daily
        let yesterday = LocalDate(page.now, in: page.zone).adding(days: -1)
        context["batches"] = BatchKind.allCases.map { ["name": $0.rawValue, "selected": $0 == batch] }
        context["from"] = query["from"] ?? yesterday.description
        context["to"] = query["to"] ?? yesterday.description
        guard let fromText = query["from"], let toText = query["to"] else { return context }
        guard let from = LocalDate(iso: fromText), let to = LocalDate(iso: toText) else {
            context["problem"] = "Give the first and last business dates as YYYY-MM-DD."
            return context
        }
        if let problem = problem(from: from, to: to, today: LocalDate(page.now, in: page.zone)) {
            context["problem"] = problem
            return context
        }
        guard let forecast = try BackfillForecast.forecast(db: page.db, configuration: page.configuration, now: page.now, batch: batch, from: from, to: to)
        else {
            context["problem"] = "The daily batch has no scheduled night ahead to forecast."
            return context
        }
        context["dry_run"] = forecast.lines(zone: page.zone)
        context["fits_after"] = forecast.with.plan.fitsWindow
        context["can_ask"] = true
        return context
    }

    /// What is wrong with a range, or nil (the same limits as the command and the database).
    static func problem(from: LocalDate, to: LocalDate, today: LocalDate) -> String? {
        if to < from { return "The last date \(to) is before the first \(from)." }
        if to >= today { return "A backfill is for past business dates: \(to) is not before today (\(today))." }
        if to.dayNumber - from.dayNumber >= BackfillForecast.maxDates {
            return "A backfill covers at most \(BackfillForecast.maxDates) business dates; \(from) to \(to) is \(to.dayNumber - from.dayNumber + 1). Split it."
        }
        return nil
    }
}
