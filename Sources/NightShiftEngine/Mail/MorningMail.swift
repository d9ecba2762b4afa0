import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftMail
import PostgresClient

/// The night's mail: once the runner's clock passes `mail.morning` (07:00), one message about
/// every batch run scheduled since the previous morning, queued in the outbox (and kept as
/// `night-<date>.eml` in `paths.outbox`). Queued once per night whichever runner gets there first
/// (`dedupe_key` night:<date>); a runner started later the same day (within 12 hours) still
/// sends it, older nights are never sent late.
struct MorningMail {
    let configuration: Configuration
    /// How late after the morning a runner may still send it.
    static let graceSeconds = 12 * 3600

    /// The night whose mail is due at `now`, if any.
    static func night(at now: Date, morningMinute: Int, zone: TimeZone) -> NightMail.Night? {
        let offsets = ZoneOffsets(zone)
        let today = LocalDateTime(now, in: offsets).date
        let morning = offsets.instant(of: LocalDateTime(date: today, minute: morningMinute))
        guard now >= morning, now.timeIntervalSince(morning) < Double(graceSeconds) else { return nil }
        let previous = offsets.instant(of: LocalDateTime(date: today.adding(days: -1), minute: morningMinute))
        return NightMail.Night(from: previous, to: morning, date: today)
    }

    /// Queues the night's mail if it is due and not queued yet; its outbox id when queued now.
    /// A batch run that cannot be read is left out of the mail, which says so, and handed to `unreadable`.
    func queueIfDue(db: PostgresConnection, now: Date, runner: String, unreadable: (RowDecodingError) -> Void = { _ in }) throws -> Int? {
        let settings = configuration.settings
        guard let night = MorningMail.night(at: now, morningMinute: settings.mail.morningMinute, zone: settings.timeZone) else { return nil }
        let key = "night:\(night.date)"
        if try db.query("SELECT 1 FROM nightshift.mail_outbox WHERE dedupe_key = \(key)").rowCount > 0 { return nil }
        let runs = try db.query("""
            SELECT id FROM nightshift.batch_runs WHERE scheduled_for >= \(night.from)::timestamptz AND scheduled_for < \(night.to)::timestamptz
            ORDER BY scheduled_for, run_number, id
            """)
        var reports: [BatchReport] = []
        var unread: [RowDecodingError] = []
        for id in try runs.decode(of: "nightshift.batch_runs", { try $0.int("id") }) {
            do {
                reports.append(try BatchReport.load(id, db: db, now: now))
            } catch let error as RowDecodingError {
                unread.append(error)
                unreadable(error)
            }
        }
        let message = try NightMail(configuration: configuration).message(reports, night: night, now: now, unreadable: unread)
        _ = try Outbox(directory: settings.outboxDirectory).store(message, name: "night-\(night.date)")
        let id = try OutboxStore(db: db).enqueue(kind: "night", dedupeKey: key, batchRunID: nil, message: message, now: now, by: runner)
        // Sunday morning: the operations report of the seven days before, to the managers.
        if night.date.weekday == 0 {
            let week = try OperationsReport.load(db: db, from: night.date.adding(days: -7), to: night.date, zone: settings.timeZone)
            let ops = try week.message(configuration: configuration, to: settings.mail.to, now: now)
            _ = try Outbox(directory: settings.outboxDirectory).store(ops, name: "ops-\(night.date.adding(days: -7))-\(night.date.adding(days: -1))")
            try OutboxStore(db: db).enqueue(kind: "ops_report", dedupeKey: "ops:\(night.date)", batchRunID: nil, message: ops, now: now, by: runner)
        }
        return id
    }
}
