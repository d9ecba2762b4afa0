import Foundation
import NightShiftCore
import PostgresClient

/// The history of nights: a month's calendar, each business date coloured by its batch runs'
/// result (failed over running over succeeded), with a link to each run. ?month=YYYY-MM.
enum HistoryPage {
    static func context(_ page: PageContext) throws -> [String: Any] {
        let today = LocalDate(page.now, in: page.zone)
        var year = today.year, month = today.month
        if let asked = page.request.query["month"], let first = LocalDate(iso: asked + "-01") {
            year = first.year
            month = first.month
        }
        let first = LocalDate(year: year, month: month, day: 1)
        let days = LocalDate.daysIn(year: year, month: month)
        let last = LocalDate(year: year, month: month, day: days)
        let result = try page.db.query("""
            SELECT id, batch, business_date::text AS business_date, state, run_number
            FROM nightshift.batch_runs WHERE business_date BETWEEN \(first.description)::date AND \(last.description)::date
            ORDER BY business_date, scheduled_for, id
            """)
        var runs: [String: [[String: Any]]] = [:]
        var results: [String: String] = [:]
        let rank = ["failed": 4, "running": 3, "cancelled": 2, "succeeded": 1]
        for row in result.rows(of: "nightshift.batch_runs") {
            // A row this version cannot read is shown as it is, marked.
            let date = try row.text("business_date")
            let state = (try? row.value("state", as: BatchState.self).rawValue) ?? "unreadable"
            runs[date, default: []].append(["batch_run": try row.int("id"), "batch": try row.text("batch"), "state": state,
                                            "run_number": try row.optionalInt("run_number") ?? 1])
            if (rank[state] ?? 5) > (rank[results[date] ?? ""] ?? 0) { results[date] = state }
        }
        var weeks: [[String: Any]] = []
        var week: [[String: Any]] = Array(repeating: ["blank": true], count: (first.weekday + 6) % 7)
        for day in 1...days {
            let date = LocalDate(year: year, month: month, day: day)
            week.append(["day": day, "date": date.description, "result": results[date.description] ?? "none",
                         "runs": runs[date.description] ?? [], "today": date == today])
            if week.count == 7 {
                weeks.append(["days": week])
                week = []
            }
        }
        if !week.isEmpty { weeks.append(["days": week + Array(repeating: ["blank": true], count: 7 - week.count)]) }
        let previous = first.adding(days: -1), next = last.adding(days: 1)
        var context = page.base("History", current: "/history")
        context["month"] = String(format: "%04d-%02d", year, month)
        context["previous"] = String(format: "%04d-%02d", previous.year, previous.month)
        context["next"] = String(format: "%04d-%02d", next.year, next.month)
        context["weeks"] = weeks
        return context
    }
}
