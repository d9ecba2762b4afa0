/// What an archive job moves out of the database: the rows of `table` older than the retention
/// age (by `ageColumn`, counted back from the business date), in chunks of `chunkRows` rows in
/// `key` order, together with the rows of its child tables that reference them. Each chunk is one
/// encrypted tar.zst archive, verified by decrypting it before its rows are deleted in the same
/// transaction as its catalog row (`nightshift.archive_catalog`).
public struct ArchiveSpec: Sendable, Equatable {
    /// `schema.table`, lower-case.
    public let table: String
    /// A unique, not-null column of `table`: the chunk order and the archive's key range.
    public let keyColumn: String
    /// A date or timestamp column: rows with a value before the cutoff are due.
    public let ageColumn: String
    public let olderThan: RetentionAge
    /// A SQL file holding a boolean condition on the row (alias `t`) that must also hold
    /// (e.g. "the delivery is paid"); nil: every row past the age is due.
    public let conditionSQL: String?
    /// Tables whose rows reference `table` (by `column` = the key): archived and deleted with it.
    public let children: [ArchiveChild]
    /// A SQL script run in the chunk's transaction before the deletes, with the chunk's keys in the
    /// temporary table `archive_keys(key)` (e.g. to carry a balance forward); nil: none.
    public let beforeDeleteSQL: String?
    /// Its reverse, run when `nightshift archive restore` puts rows back into their own tables
    /// (same `archive_keys(key)`, the restored keys); nil: none.
    public let afterRestoreSQL: String?
    public let chunkRows: Int
    /// OpenPGP recipients; the runner's keyring must hold the secret key of at least one, to verify.
    public let recipients: [String]
    /// Below this share of bytes saved by compression, the job warns with the figure (DESIGN: 50%).
    public let minSavingPercent: Int

    public init(table: String, keyColumn: String, ageColumn: String, olderThan: RetentionAge, conditionSQL: String?,
                children: [ArchiveChild], beforeDeleteSQL: String?, afterRestoreSQL: String? = nil, chunkRows: Int, recipients: [String], minSavingPercent: Int) {
        self.table = table
        self.keyColumn = keyColumn
        self.ageColumn = ageColumn
        self.olderThan = olderThan
        self.conditionSQL = conditionSQL
        self.children = children
        self.beforeDeleteSQL = beforeDeleteSQL
        self.afterRestoreSQL = afterRestoreSQL
        self.chunkRows = chunkRows
        self.recipients = recipients
        self.minSavingPercent = minSavingPercent
    }

    /// Identifiers the job file may name (`schema.table`, `column`): lower-case, no quoting needed.
    public static func isTableName(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { isColumnName(String($0)) }
    }

    public static func isColumnName(_ text: String) -> Bool {
        guard let first = text.first, first == "_" || ("a"..."z").contains(first), text.count <= 63 else { return false }
        return text.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }
}

/// A table whose rows reference the archived table's key through `column`.
public struct ArchiveChild: Sendable, Equatable {
    public let table: String
    public let column: String

    public init(table: String, column: String) {
        self.table = table
        self.column = column
    }
}
