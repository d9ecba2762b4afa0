import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftMail
import PostgresClient

/// The operations report of a period (a week by default): batch success rate, on-time completion,
/// error rate, recovery success and records per hour against their goals (`OperationsFigures`),
/// batch outcomes per day, and each job's duration with its trend against the period before. As
/// HTML with inline SVG charts (`templates/ops.html.mustache`), text, and CSV of the figures.
/// Periods are business days in the configured zone: batch runs scheduled from `from` 00:00 to
/// `to` 00:00 (exclusive).
public struct OperationsReport: Sendable {
    public struct JobDuration: Sendable, Equatable {
        public let job: String
        public let batch: String
        public let runs: Int
        public let averageSeconds: Double
        public let previousAverageSeconds: Double?
        public let rows: Int
        public var trendPercent: Double? { OperationsFigures.trend(current: averageSeconds, previous: previousAverageSeconds) }
    }

    public struct Day: Sendable, Equatable {
        public let date: LocalDate
        public let succeeded: Int
        public let failed: Int
    }

    public let from: LocalDate
    public let to: LocalDate
    public let figures: OperationsFigures
    public let previous: OperationsFigures
    public let days: [Day]
    public let jobs: [JobDuration]

    /// Reads the period's figures, and the same-length period before it for the trends.
    public static func load(db: PostgresConnection, from: LocalDate, to: LocalDate, zone: TimeZone) throws -> OperationsReport {
        let offsets = ZoneOffsets(zone)
        let instant = { (date: LocalDate) in iso8601(offsets.instant(of: LocalDateTime(date: date, minute: 0))) }
        let length = to.dayNumber - from.dayNumber
        let before = from.adding(days: -length)
        let current = try counts(db, instant(from), instant(to))
        let earlier = try counts(db, instant(before), instant(from))
        let daily = try db.query("""
            SELECT to_char(scheduled_for AT TIME ZONE \(zone.identifier), 'YYYY-MM-DD') AS day,
                   count(*) FILTER (WHERE state = 'succeeded')::int AS ok, count(*) FILTER (WHERE state = 'failed')::int AS bad
            FROM nightshift.batch_runs WHERE scheduled_for >= \(instant(from))::timestamptz AND scheduled_for < \(instant(to))::timestamptz GROUP BY 1
            """)
        var perDay: [String: (Int, Int)] = [:]
        for (day, ok, bad) in try daily.decode(of: "nightshift.batch_runs", id: "day", {
            (try $0.text("day"), try $0.optionalInt("ok") ?? 0, try $0.optionalInt("bad") ?? 0)
        }) {
            perDay[day] = (ok, bad)
        }
        let days = (0..<max(0, length)).map { offset -> Day in
            let date = from.adding(days: offset)
            let (ok, bad) = perDay[date.description] ?? (0, 0)
            return Day(date: date, succeeded: ok, failed: bad)
        }
        let durations = try db.query("""
            WITH runs AS (
                SELECT j.job, b.batch, b.scheduled_for >= \(instant(from))::timestamptz AS current,
                       extract(epoch FROM j.finished_at - j.started_at)::float8 AS seconds, j.rows_processed
                FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
                WHERE j.state = ANY(\(JobState.successes)) AND j.started_at IS NOT NULL AND j.finished_at IS NOT NULL
                  AND b.scheduled_for >= \(instant(before))::timestamptz AND b.scheduled_for < \(instant(to))::timestamptz
            )
            SELECT job, min(batch) AS batch, count(*) FILTER (WHERE current)::int AS runs,
                   avg(seconds) FILTER (WHERE current) AS average, avg(seconds) FILTER (WHERE NOT current) AS previous,
                   coalesce(sum(rows_processed) FILTER (WHERE current), 0)::bigint AS rows
            FROM runs GROUP BY job HAVING count(*) FILTER (WHERE current) > 0 ORDER BY min(batch), job
            """)
        let jobs = try durations.decode(of: "nightshift.job_runs", id: "job") { row in
            JobDuration(job: try row.text("job"), batch: try row.text("batch"), runs: try row.optionalInt("runs") ?? 0,
                        averageSeconds: try row.optionalDouble("average") ?? 0, previousAverageSeconds: try row.optionalDouble("previous"),
                        rows: try row.optionalInt("rows") ?? 0)
        }
        return OperationsReport(from: from, to: to, figures: OperationsFigures(current), previous: OperationsFigures(earlier), days: days, jobs: jobs)
    }

    private static func counts(_ db: PostgresConnection, _ from: String, _ to: String) throws -> OperationsFigures.Counts {
        var counts = OperationsFigures.Counts()
        let batches = try db.query("""
            SELECT count(*) FILTER (WHERE state = ANY(\([BatchState.succeeded, .failed])))::int AS runs, count(*) FILTER (WHERE state = 'succeeded')::int AS ok,
                   count(*) FILTER (WHERE state = 'cancelled')::int AS cancelled,
                   count(*) FILTER (WHERE state = ANY(\([BatchState.succeeded, .failed])) AND deadline IS NOT NULL)::int AS windowed,
                   count(*) FILTER (WHERE state = 'succeeded' AND deadline IS NOT NULL AND finished_at <= deadline)::int AS on_time
            FROM nightshift.batch_runs WHERE scheduled_for >= \(from)::timestamptz AND scheduled_for < \(to)::timestamptz
            """)
        counts.batchRuns = batches.int(0, "runs") ?? 0
        counts.batchesSucceeded = batches.int(0, "ok") ?? 0
        counts.batchesCancelled = batches.int(0, "cancelled") ?? 0
        counts.batchesWithWindow = batches.int(0, "windowed") ?? 0
        counts.batchesOnTime = batches.int(0, "on_time") ?? 0
        // An attempt is a move into running; it ended in an error when it left running for failed,
        // timed_out or retrying, or went back to the queue because its runner lost the lease.
        let attempts = try db.query("""
            SELECT count(*) FILTER (WHERE t.to_state = 'running')::int AS attempts,
                   count(*) FILTER (WHERE t.from_state = 'running' AND (t.to_state = ANY(\(JobState.failures + [.retrying]))
                                    OR (t.to_state = 'pending' AND t.reason LIKE 'lease of % expired%')))::int AS failed
            FROM nightshift.state_transitions t JOIN nightshift.batch_runs b ON b.id = t.batch_run_id
            WHERE t.job_run_id IS NOT NULL AND b.scheduled_for >= \(from)::timestamptz AND b.scheduled_for < \(to)::timestamptz
            """)
        counts.attempts = attempts.int(0, "attempts") ?? 0
        counts.failedAttempts = attempts.int(0, "failed") ?? 0
        let jobs = try db.query("""
            SELECT count(*) FILTER (WHERE j.failures > 0 AND j.state = ANY(\(JobState.successes + JobState.failures)))::int AS with_failures,
                   count(*) FILTER (WHERE j.failures > 0 AND j.state = ANY(\(JobState.successes)))::int AS recovered,
                   coalesce(sum(j.rows_processed), 0)::bigint AS rows,
                   coalesce(sum(coalesce(nullif(j.run_seconds, 0), extract(epoch FROM j.finished_at - j.started_at), 0)), 0)::float8 / 3600 AS hours
            FROM nightshift.job_runs j JOIN nightshift.batch_runs b ON b.id = j.batch_run_id
            WHERE b.scheduled_for >= \(from)::timestamptz AND b.scheduled_for < \(to)::timestamptz
            """)
        counts.jobsWithFailures = jobs.int(0, "with_failures") ?? 0
        counts.jobsRecovered = jobs.int(0, "recovered") ?? 0
        counts.rows = jobs.int(0, "rows") ?? 0
        counts.jobHours = jobs.double(0, "hours") ?? 0
        return counts
    }

    // MARK: output

    /// The figures as CSV (RFC 4180): the KPIs with their goals, then each job's duration and trend.
    public func csv() -> String {
        let field = { (text: String) in CSVText.field(text) }
        func number(_ value: Double?) -> String { value.map { String(format: "%.2f", $0) } ?? "" }
        var lines = ["section,key,label,value,goal,met,previous_value"]
        for (kpi, before) in zip(figures.kpis, previous.kpis) {
            lines.append(["kpi", kpi.key, kpi.label, number(kpi.value), number(kpi.goal), kpi.met.map { $0 ? "yes" : "no" } ?? "",
                          number(before.value)].map(field).joined(separator: ","))
        }
        lines.append(["count", "batches_cancelled", "Batch runs cancelled (neither a success nor a failure)",
                      String(figures.counts.batchesCancelled), "", "", String(previous.counts.batchesCancelled)].map(field).joined(separator: ","))
        lines.append("")
        lines.append("section,job,batch,runs,average_seconds,previous_average_seconds,trend_percent,rows")
        for job in jobs {
            lines.append(["job_duration", job.job, job.batch, String(job.runs), number(job.averageSeconds), number(job.previousAverageSeconds),
                          number(job.trendPercent), String(job.rows)].map(field).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// What `templates/ops.*.mustache` show, with the charts laid out as SVG shapes.
    func context(generatedAt: String) -> [String: Any] {
        func format(_ kpi: OperationsFigures.KPI, _ value: Double?) -> String {
            guard let value else { return "—" }
            return kpi.key == "records_per_hour" ? formatCount(Int(value.rounded())) : String(format: "%.1f%%", value)
        }
        let kpis = zip(figures.kpis, previous.kpis).map { kpi, before -> [String: Any] in
            var entry: [String: Any] = ["label": kpi.label, "value": format(kpi, kpi.value), "previous": format(before, before.value),
                                        "color": kpi.met.map { $0 ? "#1a7f37" : "#b42318" } ?? "#344054"]
            if let goal = kpi.goal { entry["goal"] = (kpi.higherIsBetter ? "> " : "< ") + String(format: "%.0f%%", goal) }
            if let met = kpi.met { entry["verdict"] = met ? "goal met" : "GOAL MISSED" }
            return entry
        }
        // Batch outcomes per day: stacked bars, 36 px a day, 120 px for the most runs.
        let most = max(1, days.map { $0.succeeded + $0.failed }.max() ?? 1)
        let scale = 120.0 / Double(most)
        let dayBars = days.enumerated().map { index, day -> [String: Any] in
            let ok = Double(day.succeeded) * scale, bad = Double(day.failed) * scale
            let x = 40 + index * 44
            return ["x": x, "label_x": x + 16, "ok_y": 140 - ok, "ok_h": ok, "bad_y": 140 - ok - bad, "bad_h": bad,
                    "label": String(day.date.description.suffix(5)), "title": "\(day.date): \(day.succeeded) succeeded, \(day.failed) failed"]
        }
        // Job durations: this period against the one before, bars scaled to the longest.
        let longest = max(1, jobs.map { max($0.averageSeconds, $0.previousAverageSeconds ?? 0) }.max() ?? 1)
        let jobBars = jobs.enumerated().map { index, job -> [String: Any] in
            let y = index * 26
            var entry: [String: Any] = ["job": job.job, "y": y + 12, "bar_y": y + 2, "prev_y": y + 14,
                                        "width": max(1, job.averageSeconds / longest * 360), "duration": formatDuration(job.averageSeconds),
                                        "runs": job.runs, "rows": formatCount(job.rows)]
            if let previous = job.previousAverageSeconds { entry["prev_width"] = max(1, previous / longest * 360) }
            if let trend = job.trendPercent {
                entry["trend"] = String(format: "%+.0f%%", trend)
                entry["trend_color"] = trend > 20 ? "#b42318" : trend < -20 ? "#1a7f37" : "#475467"
            }
            return entry
        }
        return [
            "from": from.description, "to": to.adding(days: -1).description, "generated_at": generatedAt,
            "ok": figures.kpis.allSatisfy { $0.met != false },
            "missed": figures.kpis.filter { $0.met == false }.map(\.label).joined(separator: ", "),
            "kpis": kpis,
            "batch_runs": figures.counts.batchRuns, "cancelled": figures.counts.batchesCancelled,
            "has_cancelled": figures.counts.batchesCancelled > 0, "attempts": figures.counts.attempts, "rows": formatCount(figures.counts.rows),
            "day_chart_width": 40 + days.count * 44, "days": dayBars,
            "job_chart_height": max(26, jobs.count * 26), "jobs": jobBars,
        ]
    }

    /// The report as a message to `to` (HTML and text, the CSV attached).
    func message(configuration: Configuration, to recipients: [String], now: Date) throws -> MailMessage {
        let settings = configuration.settings
        let templates = try MailTemplates(directory: settings.templatesDirectory, name: "ops")
        let rendered = templates.render(context(generatedAt: LocalDateTime(now, in: settings.timeZone).description))
        var message = MailMessage(from: settings.mail.from, to: recipients, subject: rendered.subject, date: now, text: rendered.text,
                                  html: rendered.html)
        message.attachments = [MailMessage.Attachment(filename: "nightshift-ops-\(from)-\(to.adding(days: -1)).csv",
                                                      contentType: "text/csv", data: Data(csv().utf8))]
        return message
    }

    /// The HTML and text, for `nightshift report ops` to write beside the CSV.
    public func rendered(configuration: Configuration, now: Date) throws -> (subject: String, text: String, html: String) {
        let templates = try MailTemplates(directory: configuration.settings.templatesDirectory, name: "ops")
        return templates.render(context(generatedAt: LocalDateTime(now, in: configuration.settings.timeZone).description))
    }
}
