import Foundation
import NightShiftCore

/// The `archive:` section of a job file: which rows leave the database, and how.
///
///     archive:
///       table: erp.deliveries              # schema.table
///       key: id                            # a unique column: chunks go in its order
///       age_column: delivery_date          # a date or timestamp column
///       older_than: 2 years                # N days | weeks | months | years, back from the business date
///       condition: jobs/archive_old_deliveries/settled.sql   # optional: a boolean condition on row `t`
///       children:                          # rows referencing the table, archived and deleted with it
///         - {table: erp.payments, column: delivery_id}
///       before_delete: jobs/archive_old_deliveries/carry_forward.sql  # optional, sees temp table archive_keys(key)
///       after_restore: jobs/archive_old_deliveries/carry_back.sql     # optional: before_delete's reverse, on restore
///       chunk_rows: 10000                  # rows of `table` per archive
///       recipients: [archive@luckygas.example]   # default: export.recipient
///       min_saving_percent: 50             # warn when compression saves less
enum ArchiveSection {
    static func read(_ section: MappingReader, stem: String, settings: RunnerSettings,
                     sqlFile: (MappingReader, String, String) -> String?) -> ArchiveSpec? {
        let before = section.diagnostics.errors.count
        let table = section.scalar("table", required: true, expected: "schema.table in lower case", example: "erp.deliveries") {
            ArchiveSpec.isTableName($0) ? $0 : nil
        }
        func column(_ reader: MappingReader, _ key: String, example: String) -> String? {
            reader.scalar(key, required: true, expected: "a column name in lower case", example: example) {
                ArchiveSpec.isColumnName($0) ? $0 : nil
            }
        }
        let key = column(section, "key", example: "id")
        let age = column(section, "age_column", example: "delivery_date")
        let olderThan = section.scalar("older_than", required: true, expected: "a count and a unit: days, weeks, months or years",
                                       example: "2 years") { RetentionAge(text: $0) }
        let condition = section.has("condition") ? sqlFile(section, "condition", "jobs/\(stem)/condition.sql") : nil
        let beforeDelete = section.has("before_delete") ? sqlFile(section, "before_delete", "jobs/\(stem)/before_delete.sql") : nil
        let afterRestore = section.has("after_restore") ? sqlFile(section, "after_restore", "jobs/\(stem)/after_restore.sql") : nil
        if beforeDelete != nil, afterRestore == nil, section.diagnostics.errors.count == before {
            section.error("before_delete", line: section.line(of: "before_delete"),
                          "before_delete changes other data when rows are archived, but nothing undoes it when they are restored",
                          fix: "add `after_restore:` with the SQL that reverses it (it sees the restored keys in archive_keys)")
        }
        var children: [ArchiveChild] = []
        for (i, item) in (section.sequence("children", required: false, example: "a list of `{table: erp.payments, column: delivery_id}`") ?? []).enumerated() {
            guard let entry = MappingReader(item, file: section.file, prefix: "\(section.path("children"))[\(i)]",
                                            diagnostics: section.diagnostics) else { continue }
            let childTable = entry.scalar("table", required: true, expected: "schema.table in lower case", example: "erp.payments") {
                ArchiveSpec.isTableName($0) ? $0 : nil
            }
            let childColumn = column(entry, "column", example: "delivery_id")
            if let childTable, childTable == table || children.contains(where: { $0.table == childTable }) {
                entry.error("table", line: entry.line(of: "table"), "\(childTable) is listed twice", fix: "name each table once")
            }
            entry.finish()
            if let childTable, let childColumn { children.append(ArchiveChild(table: childTable, column: childColumn)) }
        }
        let chunk = section.int("chunk_rows", range: 1...1_000_000, example: "10000") ?? 10_000
        let recipients = section.stringList("recipients", example: "[\(settings.recipient)]") ?? [settings.recipient]
        if recipients.isEmpty {
            section.error("recipients", line: section.line(of: "recipients"),
                          "archives are always encrypted, and this one has no recipient",
                          fix: "list the OpenPGP recipients (the runner's keyring needs the secret key of one, to verify) or remove the key")
        }
        let saving = section.int("min_saving_percent", range: 0...99, example: "50") ?? 50
        guard section.diagnostics.errors.count == before, let table, let key, let age, let olderThan else { return nil }
        return ArchiveSpec(table: table, keyColumn: key, ageColumn: age, olderThan: olderThan, conditionSQL: condition,
                           children: children, beforeDeleteSQL: beforeDelete, afterRestoreSQL: afterRestore, chunkRows: chunk, recipients: recipients,
                           minSavingPercent: saving)
    }
}
