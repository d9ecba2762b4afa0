import Foundation
import NightShiftCore
import PostgresClient

/// The one writer of the append-only `nightshift.audit` (triggers refuse UPDATE, DELETE and
/// TRUNCATE): a row per attempt and step, with who (as the database or the operating system
/// says, never as the caller claims), where from, the command and what it came to. The database's
/// own request functions audit inside the database; everything the runner and the CLI audit goes
/// through here.
public struct Audit {
    let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    /// One row. Command and detail are cut at 2000 characters (a hostile path never fills the audit).
    public func record(_ identity: OperatorIdentity, command: String, outcome: AuditOutcome, requestID: Int? = nil, detail: String?) throws {
        try db.query("""
            INSERT INTO nightshift.audit (actor, host, command, outcome, request_id, detail)
            VALUES (\(identity.account), \(Audit.hostText(identity)), \(String(command.prefix(2000))), \(outcome.rawValue),
                    \(requestID)::bigint, \(detail.map { String($0.prefix(2000)) }))
            """)
    }

    /// A statement's last step for set-based moves of requests: one audit row per row of the CTE
    /// `source` (its `id` is the request), by `actor` at `host`, with `detail` an SQL expression
    /// over the CTE's columns.
    static func each(of source: String, actor: String, host: String, command: String, outcome: AuditOutcome, detail: SQL) -> SQL {
        """
        INSERT INTO nightshift.audit (actor, host, command, outcome, request_id, detail)
        SELECT \(actor), \(host), \(command), \(outcome.rawValue), id, \(detail) FROM \(unsafeSQL: source)
        """
    }

    /// The host as recorded: the machine, and the account acted as under sudo.
    public static func hostText(_ identity: OperatorIdentity) -> String {
        identity.actingAs.map { "\(identity.host) (as \($0))" } ?? identity.host
    }
}
