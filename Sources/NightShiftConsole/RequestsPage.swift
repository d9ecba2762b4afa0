import Foundation
import NightShiftCore
import NightShiftEngine

/// Requests: those awaiting a second manager's approval first (with approve and reject for a
/// signed-in person), then the last week's.
enum RequestsPage {
    static func context(_ page: PageContext) throws -> [String: Any] {
        let listed = try RequestStore(db: page.db).list(since: page.now.addingTimeInterval(-7 * 86_400).addingTimeInterval(-86_400 * 0))
        let rows = listed.map { request -> [String: Any] in
            ["id": request.id, "state": request.state.rawValue, "what": request.what, "reason": request.reason,
             "requested_by": request.requestedBy, "requested_at": ConsoleFormat.realTime(request.requestedAt, page.zone),
             "situation": request.situation, "awaiting": request.state == .awaitingApproval,
             "batch_run": request.batchRunID.map(String.init) as Any]
        }
        var context = page.base("Requests", current: "/requests")
        context["awaiting"] = rows.filter { $0["awaiting"] as? Bool == true }
        context["recent"] = rows.filter { $0["awaiting"] as? Bool != true }
        context["has_awaiting"] = rows.contains { $0["awaiting"] as? Bool == true }
        return context
    }
}
