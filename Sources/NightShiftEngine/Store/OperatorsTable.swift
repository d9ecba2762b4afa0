import Foundation
import NightShiftCore
import PostgresClient

/// The people's rules as the database holds them (`nightshift.operators`, `nightshift.request_policy`,
/// migration 0012): the request functions decide role, quota and approval from these tables, never
/// from what a caller says. The runner's login keeps them equal to etc/operators.yaml and
/// `environment:` (at `migrate` and whenever a runner starts); `check` reports any difference.
public struct OperatorsTable {
    let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    /// Makes the tables say what `policy` says, in one transaction.
    public func sync(_ policy: RequestPolicy, zone: TimeZone) throws {
        let accounts = policy.accounts.sorted { $0.key < $1.key }
        try db.transaction {
            try db.query("""
                DELETE FROM nightshift.operators o WHERE NOT (o.account = ANY (\(accounts.map(\.key))::text[]))
                """)
            try db.query("""
                INSERT INTO nightshift.operators (account, role)
                SELECT * FROM unnest(\(accounts.map(\.key))::text[], \(accounts.map(\.value.rawValue))::text[])
                ON CONFLICT (account) DO UPDATE SET role = EXCLUDED.role WHERE nightshift.operators.role <> EXCLUDED.role
                """)
            try db.query("""
                UPDATE nightshift.request_policy SET needs_approval = \(policy.needsApproval), quota_per_day = \(policy.quotaPerDay), approval_hours = \(policy.approvalHours), time_zone = \(zone.identifier)
                """)
        }
    }

    /// Where the database differs from `policy`, one line each (empty: equal).
    public func differences(from policy: RequestPolicy, zone: TimeZone) throws -> [String] {
        var found: [String] = []
        let rows = try db.query("SELECT account, role FROM nightshift.operators ORDER BY account")
        var stored: [String: String] = [:]
        for (account, role) in try rows.decode(of: "nightshift.operators", id: "account", { (try $0.text("account"), try $0.text("role")) }) {
            stored[account] = role
        }
        for (account, role) in policy.accounts.sorted(by: { $0.key < $1.key }) where stored[account] != role.rawValue {
            found.append(stored[account].map { "\(account) is \(role) in etc/operators.yaml but \($0) in the database" }
                         ?? "\(account) (\(role)) is in etc/operators.yaml but not in the database")
        }
        for account in stored.keys.sorted() where policy.accounts[account] == nil {
            found.append("\(account) (\(stored[account] ?? "")) is in the database but not in etc/operators.yaml")
        }
        let row = try db.query("SELECT only_row, needs_approval, quota_per_day, approval_hours, time_zone FROM nightshift.request_policy")
            .row(0, of: "nightshift.request_policy", id: "only_row")
        if try row.bool("needs_approval") != policy.needsApproval {
            found.append("approval by a second manager is \(policy.needsApproval ? "required (production)" : "not required") in etc/ but \(try row.bool("needs_approval") ? "required" : "not required") in the database")
        }
        if try row.int("quota_per_day") != policy.quotaPerDay {
            found.append("quota_per_day is \(policy.quotaPerDay) in etc/operators.yaml but \(try row.int("quota_per_day")) in the database")
        }
        if try row.int("approval_hours") != policy.approvalHours {
            found.append("approval_hours is \(policy.approvalHours) in etc/operators.yaml but \(try row.int("approval_hours")) in the database")
        }
        if try row.text("time_zone") != zone.identifier {
            found.append("the time zone is \(zone.identifier) in etc/nightshift.yaml but \(try row.text("time_zone")) in the database")
        }
        return found
    }
}
