import Foundation
import NightShiftConfig
import NightShiftCore
import PostgresClient

/// Releases batch runs held for the month-end close (`batch_runs.waiting_for`): once a
/// `month_end_close_done` event for the batch's month was processed, or the configured check
/// (`month_end_close.check`) returns true. The release starts the batch's window (its deadline
/// counts from now) and is a transition row with the reason.
struct MonthEndClose {
    let configuration: Configuration
    let db: PostgresConnection

    /// The held batch runs released now, with why.
    func releaseDue(now: Date, runner: String) throws -> [(batchRun: Int, why: String)] {
        let held = try db.query("""
            SELECT id, business_date::text AS business_date, batch FROM nightshift.batch_runs
            WHERE state = 'running' AND waiting_for IS NOT NULL ORDER BY id
            """)
        var released: [(Int, String)] = []
        for row in held.rows(of: "nightshift.batch_runs") {
            let id = try row.int("id")
            let businessDate = try row.text("business_date")
            let why: String
            do {
                guard let found = try reason(businessDate: businessDate) else { continue }
                why = found
            } catch let error as PostgresError where error.isTransient {
                throw error
            } catch {
                // A broken check holds only this batch (said on it once), never the rescuer.
                try RunnerStore(db: db).addWarning(batchRunID: id, "the month-end check failed, so only the event can release it: \(error)")
                continue
            }
            let window = configuration.schedule(try row.value("batch", as: BatchKind.self)).windowSeconds
            let done = try db.transaction { () -> Bool in
                let updated = try db.query("""
                    UPDATE nightshift.batch_runs SET waiting_for = NULL, deadline = \(now)::timestamptz + make_interval(secs => \(window)::int)
                    WHERE id = \(id) AND waiting_for IS NOT NULL AND state = 'running' RETURNING id
                    """)
                guard updated.rowCount == 1 else { return false } // another runner released it
                try db.query("UPDATE nightshift.job_runs SET wait_reason = NULL WHERE batch_run_id = \(id) AND state = 'pending'")
                try db.query("""
                    INSERT INTO nightshift.state_transitions (batch_run_id, from_state, to_state, reason, at, runner)
                    VALUES (\(id), 'running', 'running', \("released: \(why)"), \(now)::timestamptz, \(runner))
                    """)
                return true
            }
            if done { released.append((id, why)) }
        }
        return released
    }

    /// Why the month of `businessDate` counts as closed, or nil while it does not.
    private func reason(businessDate: String) throws -> String? {
        let event = try db.query("""
            SELECT id, source FROM nightshift.events
            WHERE type = 'month_end_close_done' AND state = 'processed'
              AND date_trunc('month', business_date) = date_trunc('month', \(businessDate)::date)
            ORDER BY id LIMIT 1
            """)
        if let id = event.int(0, "id") { return "month-end close event #\(id) from \(event.string(0, "source") ?? "?")" }
        guard let check = configuration.settings.monthEndCheck else { return nil }
        let sql = try configuration.sql(check)
        // Read only, with the business date as a bound parameter: the check cannot change data.
        let closed = try db.transaction(begin: "BEGIN READ ONLY") { () -> Bool in
            try db.setParameters([("business_date", businessDate)])
            let result = try db.executeScript(sql)
            return result.string(0, 0) == "t"
        }
        return closed ? "sql/\(check) returned true for \(businessDate)" : nil
    }
}
