import NightShiftCore
import PostgresClient

/// Every column of the runner schema that holds a state or a kind, and the Swift enum that names
/// its values: the one list that ties each state machine's names in the database (CHECK
/// constraints) to the code. `SchemaStatesTests` compares it with the CHECK constraints of a
/// freshly migrated database, so a state added on one side only fails the tests; `status` asks the
/// database for rows holding a value none of these enums knows (`unknownValues`), which can only be
/// there when a constraint was changed by hand or by another version.
public enum SchemaStates {
    public struct Column: Sendable {
        public let table: String
        public let column: String
        /// The enum that decodes it.
        public let type: String
        /// Every value the enum knows, as stored.
        public let values: [String]

        init<T: RawRepresentable & CaseIterable>(_ table: String, _ column: String, _ type: T.Type) where T.RawValue == String {
            self.table = table
            self.column = column
            self.type = String(describing: type)
            values = type.allCases.map(\.rawValue)
        }

        init<T: RawRepresentable & CaseIterable>(_ table: String, _ column: String, _ type: T.Type) where T.RawValue == Int {
            self.table = table
            self.column = column
            self.type = String(describing: type)
            values = type.allCases.map { String($0.rawValue) }
        }
    }

    public static let columns: [Column] = [
        Column("nightshift.batch_runs", "batch", BatchKind.self),
        Column("nightshift.batch_runs", "state", BatchState.self),
        Column("nightshift.job_runs", "state", JobState.self),
        Column("nightshift.job_runs", "priority", Priority.self),
        Column("nightshift.job_runs", "error_class", FailureClass.self),
        Column("nightshift.job_runs", "pause_cause", DispatchDecision.PauseCause.self),
        Column("nightshift.outputs", "kind", JobOutput.Kind.self),
        Column("nightshift.manual_overrides", "batch", BatchKind.self),
        Column("nightshift.manual_overrides", "action", OverrideStore.Action.self),
        Column("nightshift.runners", "state", RunnerState.self),
        Column("nightshift.schedule_cursors", "batch", BatchKind.self),
        Column("nightshift.requests", "batch", BatchKind.self),
        Column("nightshift.requests", "priority", Priority.self),
        Column("nightshift.requests", "source", RequestStore.Submission.Source.self),
        Column("nightshift.requests", "target", RequestStore.Submission.Target.self),
        Column("nightshift.requests", "state", RequestState.self),
        Column("nightshift.audit", "outcome", AuditOutcome.self),
        Column("nightshift.events", "priority", Priority.self),
        Column("nightshift.events", "state", EventFileState.self),
        Column("nightshift.review_queue", "state", ReviewState.self),
        Column("nightshift.mail_outbox", "state", MailState.self),
        Column("nightshift.deliveries", "state", DeliveryState.self),
        Column("nightshift.job_log", "level", JobLogLevel.self),
        Column("nightshift.console_sessions", "state", ConsoleSessionStore.State.self),
        Column("nightshift.console_sessions", "role", Role.self),
        Column("nightshift.job_log", "source", JobLogSource.self),
        Column("nightshift.alerts", "kind", Alerts.Kind.self),
        Column("nightshift.operators", "role", Role.self),
    ]

    /// Rows whose state or kind no enum here knows (at most `limit` per column), as decoding errors
    /// that name the table, the row and the value: what `status` lists under "needs a look".
    /// A column whose validated CHECK constraint allows exactly the enum's values cannot hold
    /// anything else, so only the others are scanned (normally none: one catalog query).
    public static func unknownValues(db: PostgresConnection, limit: Int = 20) throws -> [RowDecodingError] {
        var found: [RowDecodingError] = []
        let guarded = try checkedValues(db: db)
        for column in columns where guarded["\(column.table).\(column.column)"] != Set(column.values) {
            // Identifiers come from the list above, never from input; the values are bound.
            let rows = try db.query("""
                SELECT \(unsafeSQL: idColumn(column.table)) AS id, \(unsafeSQL: column.column)::text AS value FROM \(unsafeSQL: column.table)
                WHERE \(unsafeSQL: column.column) IS NOT NULL AND NOT (\(unsafeSQL: column.column)::text = ANY (\(column.values)::text[])) ORDER BY 1 LIMIT \(limit)
                """)
            for row in rows.rows(of: column.table) {
                found.append(row.error(column.column, try row.optionalText("value"),
                                       expected: "a \(column.type): one of " + column.values.joined(separator: ", ")))
            }
        }
        return found
    }

    /// "table.column" → the values its validated CHECK constraint allows, for the two forms
    /// PostgreSQL prints: `(c = ANY (ARRAY['a'::text, …]))` and `((c >= 1) AND (c <= 4))`.
    static func checkedValues(db: PostgresConnection) throws -> [String: Set<String>] {
        let checks = try db.query("""
            SELECT conname, conrelid::regclass::text AS table_name, pg_get_constraintdef(oid) AS definition
            FROM pg_constraint WHERE contype = 'c' AND convalidated AND connamespace = 'nightshift'::regnamespace
            """)
        var allowed: [String: Set<String>] = [:]
        for row in checks.rows(of: "pg_constraint", id: "conname") {
            let table = try row.text("table_name"), definition = try row.text("definition")
            if let list = definition.firstMatch(of: /^CHECK \(\((\w+) = ANY \(ARRAY\[(.*)\]\)\)\)$/) {
                allowed["\(table).\(list.1)"] = Set(String(list.2).matches(of: /'([^']*)'::text/).map { String($0.1) })
            } else if let range = definition.firstMatch(of: /^CHECK \(\(\((\w+) >= (\d+)\) AND \((\w+) <= (\d+)\)\)\)$/),
                      range.1 == range.3, let low = Int(range.2), let high = Int(range.4), low <= high {
                allowed["\(table).\(range.1)"] = Set((low...high).map(String.init))
            }
        }
        return allowed
    }

    /// The column that names a row of `table` in messages.
    static func idColumn(_ table: String) -> String {
        switch table {
        case "nightshift.schedule_cursors": "batch"
        case "nightshift.operators": "account"
        default: "id"
        }
    }
}

extension Row {
    /// A `date` column selected as text (`business_date::text`).
    func localDate(_ column: String) throws -> LocalDate {
        let text = try self.text(column)
        guard let date = LocalDate(iso: text) else { throw error(column, text, expected: "a date (YYYY-MM-DD)") }
        return date
    }
}
