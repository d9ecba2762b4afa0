import NightShiftCore
import PostgresClient

/// The tables an archive job reads and deletes, as the database describes them: every column
/// (name and type, in order), the key's type and the age column's kind. Looked up before any
/// work, so a job file naming a table, key or column that does not exist fails with a message
/// that names it. Identifiers in generated SQL come from here, always quoted.
struct ArchiveLayout {
    struct Table {
        let name: String
        let identifier: SQLIdentifier
        /// The column linking a child to the source's key; the key itself for the source.
        let link: SQLIdentifier
        let columns: [ArchiveTableData.Column]
        let columnNames: [SQLIdentifier]
    }

    enum AgeKind { case date, timestamp, timestamptz }

    let source: Table
    let children: [Table]
    /// The key's type as the catalog spells it (`format_type`), for the temporary key table.
    let keyType: String
    let key: SQLIdentifier
    let age: SQLIdentifier
    let ageKind: AgeKind
    var tables: [Table] { [source] + children }

    static func inspect(_ spec: ArchiveSpec, db: PostgresConnection, jobFile: String) throws -> ArchiveLayout {
        func identifier(_ name: String, key: String) throws -> SQLIdentifier {
            guard let identifier = SQLIdentifier(name) else {
                throw misconfigured("\(key) \(name) is not a table or column name", fix: "write it as name or schema.name in lower case, in \(jobFile)")
            }
            return identifier
        }
        func table(_ name: String, link: String, columns: [ArchiveTableData.Column], key: String) throws -> Table {
            let names = try columns.map { column in
                guard let name = SQLIdentifier(catalogName: column.name) else {
                    throw misconfigured("\(name) has a column the catalog names \(column.name.debugDescription)", fix: "rename the column")
                }
                return name
            }
            return Table(name: name, identifier: try identifier(name, key: key), link: try identifier(link, key: key), columns: columns,
                         columnNames: names)
        }
        func columns(of table: String, key: String) throws -> [ArchiveTableData.Column] {
            let result = try db.query("""
                SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type
                FROM pg_attribute a
                WHERE a.attrelid = to_regclass(\(table)) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                ORDER BY a.attnum
                """)
            guard result.rowCount > 0 else {
                throw misconfigured("table \(table) (\(key)) does not exist", fix: "correct `\(key)` in \(jobFile) or create the table")
            }
            return try result.decode(of: "pg_attribute of \(table)", id: result.columnName(0)) { row in
                ArchiveTableData.Column(name: try row.text(result.columnName(0)), type: try row.text(result.columnName(1)))
            }
        }
        let sourceColumns = try columns(of: spec.table, key: "archive.table")
        guard let key = sourceColumns.first(where: { $0.name == spec.keyColumn }) else {
            throw misconfigured("\(spec.table) has no column \(spec.keyColumn) (archive.key)", fix: "name a unique column of \(spec.table)")
        }
        let unique = try db.query("""
            SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                           WHERE i.indrelid = to_regclass(\(spec.table)) AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL
                             AND a.attname = \(spec.keyColumn))
            """)
        guard unique.bool(0, "exists") == true else {
            throw misconfigured("\(spec.table).\(spec.keyColumn) (archive.key) is not unique: chunks need a unique key to be exact",
                                fix: "name the primary key (or a column with a unique index of its own)")
        }
        guard let age = sourceColumns.first(where: { $0.name == spec.ageColumn }) else {
            throw misconfigured("\(spec.table) has no column \(spec.ageColumn) (archive.age_column)", fix: "name a date or timestamp column")
        }
        let ageKind: AgeKind
        switch age.type {
        case "date": ageKind = .date
        case "timestamp with time zone": ageKind = .timestamptz
        case "timestamp without time zone": ageKind = .timestamp
        default:
            throw misconfigured("\(spec.table).\(spec.ageColumn) (archive.age_column) is \(age.type), not a date or timestamp",
                                fix: "name a date or timestamp column")
        }
        var children: [Table] = []
        for child in spec.children {
            let childColumns = try columns(of: child.table, key: "archive.children")
            guard childColumns.contains(where: { $0.name == child.column }) else {
                throw misconfigured("\(child.table) has no column \(child.column) (archive.children)",
                                    fix: "name the column of \(child.table) that holds \(spec.table).\(spec.keyColumn)")
            }
            children.append(try table(child.table, link: child.column, columns: childColumns, key: "archive.children"))
        }
        return ArchiveLayout(source: try table(spec.table, link: spec.keyColumn, columns: sourceColumns, key: "archive.table"),
                             children: children, keyType: key.type, key: try identifier(spec.keyColumn, key: "archive.key"),
                             age: try identifier(spec.ageColumn, key: "archive.age_column"), ageKind: ageKind)
    }

    /// `t.<age> < <cutoff>`: the cutoff is bound as `$n` (a date); timestamps compare against
    /// midnight of that date in the runner's time zone.
    func dueCondition(cutoff: LocalDate) -> SQL {
        switch ageKind {
        case .date: return "t.\(age) < \(cutoff)::date"
        case .timestamp: return "t.\(age) < \(cutoff)::date::timestamp"
        case .timestamptz: return "t.\(age) < (\(cutoff)::date::timestamp AT TIME ZONE nightshift.time_zone())"
        }
    }

    private static func misconfigured(_ problem: String, fix: String) -> JobFailure {
        JobFailure(failureClass: .permanent, sqlState: nil, message: "\(problem). Fix: \(fix)")
    }
}
