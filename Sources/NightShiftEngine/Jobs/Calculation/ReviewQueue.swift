import Foundation
import NightShiftConfig
import NightShiftCore
import PostgresClient

/// Bad records a calculation set aside (`nightshift.review_queue`), and what people do with them:
/// list, retry (apply the one record again, now that its data or the job was fixed), dismiss.
/// Each retry and dismissal is an audit row.
public struct ReviewQueue {
    let db: PostgresConnection
    let configuration: Configuration

    public init(db: PostgresConnection, configuration: Configuration) {
        self.db = db
        self.configuration = configuration
    }

    public struct Item: Sendable {
        public let id: Int
        public let job: String
        public let businessDate: String
        public let key: Int
        public let record: String?
        public let sqlState: String?
        public let message: String
        public let state: ReviewState
        public let rejectedAt: Date
        public let decidedBy: String?
        public let note: String?
    }

    public func list(job: String?, openOnly: Bool, limit: Int = 500, id: Int? = nil) throws -> [Item] {
        let rows = try db.query("""
            SELECT id, job, business_date::text AS business_date, record_key, record::text AS record, sqlstate, message, state,
                   extract(epoch FROM rejected_at)::float8 AS rejected_at, decided_by, note
            FROM nightshift.review_queue
            WHERE (\(job)::text IS NULL OR job = \(job)) AND (NOT \(openOnly)::boolean OR state = 'open') AND (\(id)::bigint IS NULL OR id = \(id))
            ORDER BY id LIMIT \(limit)
            """)
        return try rows.decode(of: "nightshift.review_queue") { row in
            Item(id: try row.int("id"), job: try row.text("job"), businessDate: try row.text("business_date"),
                 key: try row.int("record_key"), record: try row.optionalText("record"), sqlState: try row.optionalText("sqlstate"),
                 message: try row.text("message"), state: try row.value("state", as: ReviewState.self),
                 rejectedAt: try row.optionalDate("rejected_at") ?? Date(timeIntervalSince1970: 0),
                 decidedBy: try row.optionalText("decided_by"), note: try row.optionalText("note"))
        }
    }

    public enum Outcome: Equatable {
        case resolved
        case stillBad(sqlState: String?, message: String)
        case refused(String)
    }

    /// Applies the one record again with the job's own stage and apply SQL (its checkpoint is not
    /// touched): resolved when it goes through, else the item stays open with the new error.
    public func retry(_ id: Int, by identity: OperatorIdentity, command: String) throws -> Outcome {
        guard let item = try list(job: nil, openOnly: false, id: id).first else {
            return try refuse("there is no review item #\(id); `nightshift review list` shows them", identity, command, nil)
        }
        guard item.state == .open else { return try refuse("review item #\(id) is \(item.state) already", identity, command, id) }
        guard let definition = configuration.jobs.first(where: { $0.name == item.job }), case let .calculation(spec) = definition.action else {
            return try refuse("\(item.job) is no longer a calculation job; dismiss the item instead", identity, command, id)
        }
        let staging = CalculationExecutor.stagingTable(for: item.job)
        func load(_ file: String) throws -> String { try configuration.sql(file).replacingOccurrences(of: "{{staging}}", with: staging) }
        let (table, key) = try CalculationExecutor.identifiers(staging: staging, key: spec.keyColumn)
        try db.query("DROP TABLE IF EXISTS pg_temp.\(table)")
        try db.executeScript(try load(spec.stagingSQL))
        defer { _ = try? db.query("DROP TABLE IF EXISTS pg_temp.\(table)") }
        do {
            try db.transaction {
                try db.setParameters([("business_date", item.businessDate), ("time_zone", configuration.settings.timeZone.identifier),
                                      ("after_key", String(item.key - 1)), ("chunk_size", "1")])
                try db.executeScript(try load(spec.stageSQL))
                let staged = try db.query("SELECT count(*) AS n, max(\(key)) AS key FROM \(table)")
                guard staged.int(0, "n") == 1, staged.int(0, "key") == item.key else {
                    throw ReviewRetryProblem(message: "the stage query no longer selects key \(item.key) for \(item.businessDate)")
                }
                try db.executeScript(try load(spec.applySQL))
                try db.query("""
                    UPDATE nightshift.review_queue SET state = 'resolved', decided_by = \(identity.account), decided_at = clock_timestamp(), note = 'applied by a retry'
                    WHERE id = \(id)
                    """)
                try audit(identity, command, .resolved, "review item #\(id): \(item.job) key \(item.key) applied")
            }
            return .resolved
        } catch let error as PostgresError where error.isDataError {
            try db.query("UPDATE nightshift.review_queue SET sqlstate = \(error.sqlState), message = \(error.message) WHERE id = \(id)")
            try audit(identity, command, .retryFailed, "review item #\(id): \(error.message)")
            return .stillBad(sqlState: error.sqlState, message: error.message)
        } catch let problem as ReviewRetryProblem {
            try audit(identity, command, .retryFailed, "review item #\(id): \(problem.message)")
            return .stillBad(sqlState: nil, message: problem.message)
        }
    }

    /// Sets an open item aside for good, with why.
    public func dismiss(_ id: Int, by identity: OperatorIdentity, command: String, reason: String) throws -> Outcome {
        let updated = try db.query("""
            UPDATE nightshift.review_queue SET state = 'dismissed', decided_by = \(identity.account), decided_at = clock_timestamp(), note = \(reason)
            WHERE id = \(id) AND state = 'open' RETURNING id, job, record_key
            """)
        guard updated.rowCount == 1 else {
            return try refuse("review item #\(id) does not exist or is not open", identity, command, nil)
        }
        let row = updated.row(0, of: "nightshift.review_queue")
        try audit(identity, command, .dismissed, "review item #\(id): \(try row.text("job")) key \(try row.text("record_key")): \(reason)")
        return .resolved
    }

    private func refuse(_ reason: String, _ identity: OperatorIdentity, _ command: String, _ id: Int?) throws -> Outcome {
        try RequestStore(db: db).refuse(by: identity, command: command, reason: reason)
        return .refused(reason)
    }

    private func audit(_ identity: OperatorIdentity, _ command: String, _ outcome: AuditOutcome, _ detail: String) throws {
        try Audit(db: db).record(identity, command: command, outcome: outcome, detail: detail)
    }
}

struct ReviewRetryProblem: Error {
    let message: String
}
