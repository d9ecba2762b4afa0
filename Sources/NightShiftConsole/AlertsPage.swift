import Foundation
import NightShiftCore
import PostgresClient

/// Alerts: the incidents raised (one per incident), newest first, with where their mail went.
enum AlertsPage {
    static func context(_ page: PageContext) throws -> [String: Any] {
        let result = try page.db.query("""
            SELECT a.id, a.kind, a.subject, a.detail, a.batch_run_id, a.job_run_id, extract(epoch FROM a.raised_at)::float8 AS raised_at,
                   a.raised_by, m.state AS mail_state
            FROM nightshift.alerts a LEFT JOIN nightshift.mail_outbox m ON m.id = a.mail_id
            ORDER BY a.id DESC LIMIT 200
            """)
        var context = page.base("Alerts", current: "/alerts")
        context["alerts"] = try result.rows(of: "nightshift.alerts").map { row in
            ["id": try row.int("id"), "kind": try row.text("kind"), "subject": try row.text("subject"), "detail": try row.text("detail"),
             "batch_run": try row.optionalInt("batch_run_id").map(String.init) as Any, "job_run": try row.optionalInt("job_run_id").map(String.init) as Any,
             "raised_at": ConsoleFormat.dateTime(try row.date("raised_at"), page.zone), "raised_by": try row.text("raised_by"),
             "mail": try row.optionalText("mail_state") ?? "no mail (nobody on call)"]
        }
        return context
    }
}
