import Foundation
import NightShiftCore
import PostgresClient

/// The review queue: the bad records calculations set aside. The records themselves are customer
/// data: shown only to a signed-in manager or director.
enum ReviewPage {
    static func context(_ page: PageContext) throws -> [String: Any] {
        let showRecords = page.isManager
        let result = try page.db.query("""
            SELECT id, job, job_run_id, business_date::text AS business_date, record_key, sqlstate, message,
                   CASE WHEN \(showRecords) THEN record::text END AS record,
                   extract(epoch FROM rejected_at)::float8 AS rejected_at
            FROM nightshift.review_queue WHERE state = 'open' ORDER BY id DESC LIMIT 500
            """)
        var context = page.base("Review queue", current: "/review")
        context["items"] = try result.rows(of: "nightshift.review_queue").map { row in
            ["id": try row.int("id"), "job": try row.text("job"), "job_run": try row.optionalInt("job_run_id").map(String.init) as Any,
             "business_date": try row.text("business_date"), "key": try row.int("record_key"), "sqlstate": try row.optionalText("sqlstate") ?? "",
             "message": try row.text("message"), "record": try row.optionalText("record") ?? "",
             "rejected_at": ConsoleFormat.realTime(try row.date("rejected_at"), page.zone)]
        }
        context["show_records"] = showRecords
        return context
    }
}
