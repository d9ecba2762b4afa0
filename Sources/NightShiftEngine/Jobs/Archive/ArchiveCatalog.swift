import Foundation
import NightShiftCore
import Packaging
import PostgresClient

/// The archive catalog (`nightshift.archive_catalog`): what archive jobs moved out of the
/// database, and what people do with it — list, verify, restore. Each of those is an audit row.
public struct ArchiveCatalog {
    let db: PostgresConnection

    public init(db: PostgresConnection) { self.db = db }

    public struct Entry: Sendable {
        public let id: Int
        public let job: String
        public let businessDate: String
        public let table: String
        public let keyColumn: String
        public let firstKey: String
        public let lastKey: String
        public let cutoff: String
        public let rows: Int
        /// Per table (the source first): name and rows.
        public let tableRows: [(table: String, rows: Int)]
        public let path: String
        public let bytes: Int
        public let sha256: String
        public let dataBytes: Int
        public let archivedAt: Date
        public let restoredAt: Date?
        public let restoredBy: String?
        public let restoredInto: String?
        let tables: [ArchiveTableData]

        /// The share of bytes compression saved.
        public var savingPercent: Double { dataBytes > 0 ? 100 - 100 * Double(bytes) / Double(dataBytes) : 0 }
    }

    // MARK: written by the archive job

    func insert(id: Int, job: String, jobRunID: Int, businessDate: LocalDate, spec: ArchiveSpec, firstKey: String, lastKey: String,
                cutoff: LocalDate, tables: [ArchiveTableData], path: String, bytes: Int, sha256: String, dataBytes: Int,
                encryptedTo: [String]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(tables), as: UTF8.self)
        try db.query("""
            INSERT INTO nightshift.archive_catalog (id, job, job_run_id, business_date, source_table, key_column, first_key, last_key,
                                                    cutoff, rows, tables, path, bytes, sha256, data_bytes, encrypted_to)
            VALUES (\(id), \(job), \(jobRunID), \(businessDate.description)::date, \(spec.table), \(spec.keyColumn), \(firstKey), \(lastKey), \(cutoff.description)::date, \(tables[0].rows), \(json)::jsonb, \(path), \(bytes), \(sha256), \(dataBytes), string_to_array(\(encryptedTo.joined(separator: ",")), ','))
            """)
    }

    /// Removes archive files of `job` that have no catalog row (and unfinished `.partial` files):
    /// an attempt stopped before its COMMIT, so their rows are still in the database. Returns how
    /// many. Called by the attempt holding the job's lease, before it writes anything.
    func removeOrphans(job: String, directory: String) throws -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        let candidates = names.filter { $0.hasSuffix(".tar.zst.gpg") || $0.hasSuffix(".tar.zst.gpg.partial") }.map { "\(directory)/\($0)" }
        guard !candidates.isEmpty else { return 0 }
        let known = try db.query("SELECT path FROM nightshift.archive_catalog WHERE path = ANY(string_to_array(\(candidates.joined(separator: "\n")), E'\\n'))")
        let catalogued = Set(try known.decode(of: "nightshift.archive_catalog", id: "path") { try $0.text("path") })
        var removed = 0
        for path in candidates where !catalogued.contains(path) {
            if unlink(path) == 0 { removed += 1 }
        }
        return removed
    }

    /// Reads `path` back (decrypting it): every table's entry must hold exactly the rows and
    /// SHA-256 recorded, `archive.json` must list the same tables, and nothing else may be inside.
    static func verify(path: String, pgp: OpenPGPContext, tables: [ArchiveTableData]) throws -> EncryptedArchiveReader.FileDigest {
        var seen: Set<String> = []
        var description: ArchiveDescription?
        let digest = try EncryptedArchiveReader.read(from: path, pgp: pgp) { name, reader in
            guard seen.insert(name).inserted else { throw ArchiveDamaged(path: path, problem: "the entry \(name) appears twice") }
            if name == ArchiveDescription.entryName {
                var data: [UInt8] = []
                _ = try EntryTally.drain(reader) { data.append(contentsOf: $0) }
                description = try? JSONDecoder().decode(ArchiveDescription.self, from: Data(data))
                return
            }
            guard let expected = tables.first(where: { $0.entry == name }) else {
                throw ArchiveDamaged(path: path, problem: "it holds an entry \(name) the catalog does not list")
            }
            let tally = try EntryTally.drain(reader)
            try check(tally, against: expected, path: path)
        }
        for table in tables where !seen.contains(table.entry) {
            throw ArchiveDamaged(path: path, problem: "the entry \(table.entry) (\(table.rows) rows of \(table.table)) is missing")
        }
        guard let description, description.tables == tables else {
            throw ArchiveDamaged(path: path, problem: "its archive.json is missing or does not describe the same tables as the catalog")
        }
        return digest
    }

    static func check(_ tally: EntryTally, against expected: ArchiveTableData, path: String) throws {
        let sha = try tally.sha256()
        guard tally.rows == expected.rows, tally.bytes == expected.bytes, sha == expected.sha256 else {
            throw ArchiveDamaged(path: path, problem: """
                \(expected.entry) holds \(tally.rows) rows, \(tally.bytes) bytes, SHA-256 \(sha); \
                expected \(expected.rows) rows, \(expected.bytes) bytes, SHA-256 \(expected.sha256)
                """)
        }
    }

    // MARK: what people do with it

    public func list(job: String? = nil, table: String? = nil, id: Int? = nil, limit: Int = 1000) throws -> [Entry] {
        let rows = try db.query("""
            SELECT id, job, business_date::text AS business_date, source_table, key_column, first_key, last_key, cutoff::text AS cutoff,
                   rows, tables::text AS tables, path, bytes, sha256, data_bytes,
                   extract(epoch FROM archived_at)::float8 AS archived_at, extract(epoch FROM restored_at)::float8 AS restored_at,
                   restored_by, restored_into
            FROM nightshift.archive_catalog
            WHERE (\(job)::text IS NULL OR job = \(job)) AND (\(table)::text IS NULL OR source_table = \(table)) AND (\(id)::bigint IS NULL OR id = \(id))
            ORDER BY id LIMIT \(limit)
            """)
        return try rows.decode(of: "nightshift.archive_catalog") { row in
            let json = try row.text("tables")
            let tables: [ArchiveTableData]
            do {
                tables = try JSONDecoder().decode([ArchiveTableData].self, from: Data(json.utf8))
            } catch {
                throw row.error("tables", json, expected: "the JSON list of archived tables NightShift writes (\(error))")
            }
            return Entry(id: try row.int("id"), job: try row.text("job"), businessDate: try row.text("business_date"),
                         table: try row.text("source_table"), keyColumn: try row.text("key_column"),
                         firstKey: try row.text("first_key"), lastKey: try row.text("last_key"), cutoff: try row.text("cutoff"),
                         rows: try row.int("rows"), tableRows: tables.map { ($0.table, $0.rows) }, path: try row.text("path"),
                         bytes: try row.int("bytes"), sha256: try row.text("sha256"), dataBytes: try row.int("data_bytes"),
                         archivedAt: try row.optionalDate("archived_at") ?? Date(timeIntervalSince1970: 0),
                         restoredAt: try row.optionalDate("restored_at"),
                         restoredBy: try row.optionalText("restored_by"), restoredInto: try row.optionalText("restored_into"), tables: tables)
        }
    }

    /// Checks entry `id`'s file: its SHA-256 against the catalog, then decrypts it and checks every
    /// table's rows and SHA-256. Throws `ArchiveDamaged` (or the gpgme error) when it does not hold.
    public func verify(_ id: Int, keyring: String) throws -> Entry {
        let entry = try entry(id)
        try ArchiveCatalog.checkFile(entry)
        let pgp = try OpenPGPContext(homedir: keyring)
        let digest = try ArchiveCatalog.verify(path: entry.path, pgp: pgp, tables: entry.tables)
        guard digest.sha256 == entry.sha256 else {
            throw ArchiveDamaged(path: entry.path, problem: "it changed while it was read (SHA-256 \(digest.sha256))")
        }
        return entry
    }

    /// Puts entry `id`'s rows back: into their own tables, or into `schema` (each table created
    /// there like its source when missing), in one transaction, source rows before their children.
    /// The source rows pass through a temporary table, which gives `archive_keys`.
    /// Every table's rows and SHA-256 are checked as they stream in; any difference, a key already
    /// present (SQLSTATE 23505) or a file that does not decrypt rolls everything back.
    /// `afterRestore` (the job's `after_restore` SQL) runs when the rows go back into their own
    /// tables, with the restored keys in the temporary table `archive_keys(key)`.
    public func restore(_ id: Int, into schema: String?, keyring: String, afterRestore: String?, by identity: OperatorIdentity) throws -> Entry {
        let entry = try entry(id)
        try ArchiveCatalog.checkFile(entry)
        let pgp = try OpenPGPContext(homedir: keyring)
        return try db.transaction {
            // Names read back from the catalog: identifiers, or the entry is damaged (never glued in as text).
            func identifier(_ name: String, _ what: String) throws -> SQLIdentifier {
                guard let identifier = SQLIdentifier(name) else {
                    throw ArchiveDamaged(path: entry.path, problem: "the catalog names \(what) \(name.debugDescription), which is not a table or column name")
                }
                return identifier
            }
            let into = try schema.map { name in
                guard let identifier = SQLIdentifier(name), identifier.parts.count == 1 else {
                    throw ArchiveDamaged(path: entry.path, problem: "\(name.debugDescription) is not a schema name (lower case letters, digits, underscores)")
                }
                return identifier
            }
            var targets: [String: SQLIdentifier] = [:]
            for table in entry.tables {
                let source = try identifier(table.table, "the table")
                guard let into else {
                    targets[table.entry] = source
                    continue
                }
                let name = source.inSchema(into)
                try db.query("CREATE SCHEMA IF NOT EXISTS \(into)")
                try db.query("CREATE TABLE IF NOT EXISTS \(name) (LIKE \(source) INCLUDING ALL)")
                targets[table.entry] = name
            }
            let key = try identifier(entry.keyColumn, "the key column")
            var restored: Set<String> = []
            let digest = try EncryptedArchiveReader.read(from: entry.path, pgp: pgp) { name, reader in
                if name == ArchiveDescription.entryName { _ = try EntryTally.drain(reader); return }
                guard let table = entry.tables.first(where: { $0.entry == name }), let target = targets[name], restored.insert(name).inserted else {
                    throw ArchiveDamaged(path: entry.path, problem: "it holds an entry \(name) the catalog does not list (or twice)")
                }
                let columns = try table.columns.map { column in
                    guard let name = SQLIdentifier(catalogName: column.name) else {
                        throw ArchiveDamaged(path: entry.path, problem: "the catalog names a column \(column.name.debugDescription) of \(table.table)")
                    }
                    return name
                }
                let isSource = table.table == entry.table
                if isSource {
                    try db.query("CREATE TEMP TABLE archive_rows ON COMMIT DROP AS SELECT \(columns) FROM \(target) LIMIT 0")
                }
                let copy = try db.copyInStream("COPY \(isSource ? "archive_rows" : target.quoted) (\(columns.quotedList)) FROM STDIN")
                let tally = try EntryTally.drain(reader) { try copy.write($0) }
                do {
                    try ArchiveCatalog.check(tally, against: table, path: entry.path)
                } catch {
                    copy.abort("the archive entry does not match the catalog")
                    throw error
                }
                let stored = try copy.finish()
                guard stored == table.rows else {
                    throw ArchiveDamaged(path: entry.path, problem: "\(table.table): \(stored) rows stored, \(table.rows) archived")
                }
                if isSource {
                    try db.query("INSERT INTO \(target) (\(columns)) SELECT \(columns) FROM archive_rows")
                    try db.query("CREATE TEMP TABLE archive_keys ON COMMIT DROP AS SELECT \(key) AS key FROM archive_rows")
                }
            }
            if schema == nil, let afterRestore { try db.executeScript(afterRestore) }
            guard digest.sha256 == entry.sha256, restored.count == entry.tables.count else {
                throw ArchiveDamaged(path: entry.path, problem: "it changed while it was read, or an entry is missing")
            }
            try db.query("""
                UPDATE nightshift.archive_catalog SET restored_at = clock_timestamp(), restored_by = \(identity.account), restored_into = \(schema ?? "original tables") WHERE id = \(id)
                """)
            return entry
        }
    }

    private func entry(_ id: Int) throws -> Entry {
        guard let entry = try list(id: id).first else {
            throw ArchiveDamaged(path: "", problem: "there is no archive entry #\(id); `nightshift archive list` shows them")
        }
        return entry
    }

    /// The file must exist and hash to what the catalog recorded before anything reads its content.
    static func checkFile(_ entry: Entry) throws {
        guard FileManager.default.fileExists(atPath: entry.path) else {
            throw ArchiveDamaged(path: entry.path, problem: "the file is missing; restore it from the backup of \(entry.path)")
        }
        let hasher = SHA256()
        var bytes = 0
        guard let handle = FileHandle(forReadingAtPath: entry.path) else {
            throw ArchiveDamaged(path: entry.path, problem: "the file cannot be read (check its permissions)")
        }
        defer { try? handle.close() }
        while let data = try handle.read(upToCount: 1 << 20), !data.isEmpty {
            data.withUnsafeBytes { hasher.update($0) }
            bytes += data.count
        }
        let sha = try hasher.finalize()
        guard sha == entry.sha256, bytes == entry.bytes else {
            throw ArchiveDamaged(path: entry.path, problem: """
                the file has SHA-256 \(sha) (\(bytes) bytes) but the catalog recorded \(entry.sha256) (\(entry.bytes) bytes): \
                it was changed or damaged. Nothing was restored; restore the file from a backup copy
                """)
        }
    }
}

/// An archive that does not hold what the catalog says (changed, truncated, replaced, missing).
public struct ArchiveDamaged: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String

    public var description: String { path.isEmpty ? problem : "archive \(path): \(problem)" }
}

#if canImport(Glibc)
import Glibc
#endif
