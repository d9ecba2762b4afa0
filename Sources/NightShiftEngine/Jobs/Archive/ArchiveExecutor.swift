import Foundation
import NightShiftCore
import Packaging
import PostgresClient

/// Moves rows past their retention age out of the database into encrypted archives, one chunk of
/// `chunk_rows` source rows (in key order, with their children's rows) per archive and per
/// transaction:
///
/// 1. In one transaction, the chunk's keys go to the temporary table `archive_keys`, and the
///    chunk's rows of every table are locked (FOR UPDATE) and read with COPY: nobody can change,
///    delete or add to them until the COMMIT, so what is archived is exactly what is deleted.
/// 2. They are written as one tar.zst encrypted to the recipients, fsynced and moved to its final
///    name `<job folder>/<table>-<catalog id>.tar.zst.gpg`.
/// 3. The file is read back from disk and decrypted; every table's rows and SHA-256 must equal
///    what was read from the database.
/// 4. Only then: `before_delete`, the deletes (children first; each must remove exactly the rows
///    archived), the catalog row, the lease fence, COMMIT.
///
/// A crash before the COMMIT leaves the rows in their tables and, at most, a file with no catalog
/// row, which the next attempt removes; after it, the rows are in exactly one catalogued archive.
/// No row is lost or archived twice.
struct ArchiveExecutor: JobExecutor {
    let spec: ArchiveSpec

    func execute(_ context: JobContext) throws -> JobOutcome {
        let settings = context.configuration.settings
        let keys = try ArchiveKeys(recipients: spec.recipients, keyring: settings.keyring)
        let db = context.db
        let layout = try ArchiveLayout.inspect(spec, db: db, jobFile: "jobs/\(context.job.name).yaml")
        let directory = "\(settings.archivesDirectory)/\(context.job.name)"
        try PrivateFiles.makeDirectory(directory)
        let catalog = ArchiveCatalog(db: db)
        let orphans = try catalog.removeOrphans(job: context.job.name, directory: directory)

        let condition = try spec.conditionSQL.map {
            try context.configuration.sql($0).trimmingCharacters(in: .whitespacesAndNewlines).trimmingCharacters(in: CharacterSet(charactersIn: ";"))
        }
        let beforeDelete = try spec.beforeDeleteSQL.map { try context.configuration.sql($0) }
        let cutoff = spec.olderThan.cutoff(before: context.businessDate)
        let modified = Int(settings.timeZone.instant(of: LocalDateTime(date: context.businessDate, minute: 0)).timeIntervalSince1970)
        let chunk = Chunk(spec: spec, layout: layout, context: context, keys: keys, directory: directory, cutoff: cutoff,
                          condition: condition, beforeDelete: beforeDelete, modified: modified)

        var outcome = JobOutcome(rows: 0)
        var after: String?
        var dataBytes = 0, archiveBytes = 0, childRows = 0
        var lowSaving: [String] = []
        while true {
            try context.checkpoint()
            guard let archived = try chunk.archive(after: after, rowsSoFar: outcome.rows) else { break }
            after = archived.lastKey
            outcome.rows += archived.rows
            childRows += archived.childRows
            dataBytes += archived.dataBytes
            archiveBytes += archived.bytes
            outcome.outputs.append(JobOutput(kind: .archive, path: archived.path, sha256: archived.sha256, bytes: archived.bytes, rows: archived.rows))
            context.control.setProgress(rows: outcome.rows)
            if archived.savingPercent < Double(spec.minSavingPercent) {
                let figure = String(format: "%.1f%%", archived.savingPercent)
                lowSaving.append("#\(archived.id) \(figure)")
                context.logger.warning("archive compressed below the expected saving", metadata: [
                    "job": "\(context.job.name)", "archive": "\(archived.path)", "saving": "\(figure)", "expected": "\(spec.minSavingPercent)%"])
            }
        }
        var note = outcome.outputs.isEmpty
            ? "nothing in \(spec.table) older than \(cutoff) (\(spec.olderThan))"
            : "\(outcome.outputs.count) archive\(outcome.outputs.count == 1 ? "" : "s"): \(outcome.rows) rows of \(spec.table) dated before \(cutoff)"
                + (childRows > 0 ? " and \(childRows) rows of \(layout.children.map(\.name).joined(separator: ", "))" : "")
                + String(format: ", compression saved %.1f%%", dataBytes > 0 ? 100 - 100 * Double(archiveBytes) / Double(dataBytes) : 0)
        if !lowSaving.isEmpty {
            note += "; warning: below the expected \(spec.minSavingPercent)% saving: \(lowSaving.joined(separator: ", "))"
        }
        if orphans > 0 { note += "; removed \(orphans) unfinished archive file\(orphans == 1 ? "" : "s") of an interrupted attempt" }
        outcome.note = note
        return outcome
    }

    /// What one committed chunk produced.
    struct Archived {
        let id: Int
        let path: String
        let rows: Int
        let childRows: Int
        let lastKey: String
        let bytes: Int
        let sha256: String
        let dataBytes: Int
        var savingPercent: Double { dataBytes > 0 ? 100 - 100 * Double(bytes) / Double(dataBytes) : 100 }
    }

    /// One chunk: read, write, verify, delete and catalog, in one transaction.
    struct Chunk {
        let spec: ArchiveSpec
        let layout: ArchiveLayout
        let context: JobContext
        let keys: ArchiveKeys
        let directory: String
        let cutoff: LocalDate
        let condition: String?
        let beforeDelete: String?
        let modified: Int

        /// Archives the next chunk after `after` (nil: from the first due row); nil when nothing is due.
        func archive(after: String?, rowsSoFar: Int) throws -> Archived? {
            let db = context.db
            var written: String?
            var committing = false
            try db.query("BEGIN")
            do {
                try db.setParameters(context.parameters)
                let source = layout.source
                let key = layout.key
                try db.query("CREATE TEMP TABLE archive_keys (key \(unsafeSQL: layout.keyType) PRIMARY KEY) ON COMMIT DROP")
                // The chunk's source rows are locked until COMMIT: nobody changes or deletes them,
                // and no child row can be added to them (its foreign key check waits for the lock).
                let picked = try db.query("""
                    WITH picked AS (
                        SELECT t.\(key) FROM \(source.identifier) t
                        WHERE \(layout.dueCondition(cutoff: cutoff))
                          AND (\(after)::text IS NULL OR t.\(key) > \(after)::\(unsafeSQL: layout.keyType))
                          \(unsafeSQL: condition.map { "AND (\n\($0)\n)" } ?? "")
                        ORDER BY t.\(key) LIMIT \(spec.chunkRows)
                        FOR UPDATE OF t)
                    INSERT INTO archive_keys SELECT * FROM picked
                    """)
                guard picked.affectedRows > 0 else {
                    try db.query("ROLLBACK")
                    return nil
                }
                // A temporary table has no statistics: without them the planner reads every child
                // table whole for each chunk instead of probing its index by key.
                try db.query("ANALYZE archive_keys")
                let range = try db.query("SELECT min(key)::text AS first, max(key)::text AS last FROM archive_keys")
                    .row(0, of: "archive_keys", id: "first")
                let firstKey = try range.text("first"), lastKey = try range.text("last")
                let id = try db.query("SELECT nextval('nightshift.archive_catalog_id_seq') AS id").scalarInt(of: "nightshift.archive_catalog")

                // So are their children's rows: what is read below is what is deleted below.
                for child in layout.children {
                    try db.query("""
                        SELECT count(*) FROM (SELECT 1 FROM \(child.identifier)
                                              WHERE \(child.link) IN (SELECT key FROM archive_keys) FOR UPDATE) AS locked
                        """)
                }
                // Every table's rows of the chunk, as COPY text, in memory (one chunk at a time).
                var entries: [(name: String, data: [UInt8])] = []
                var tables: [ArchiveTableData] = []
                for table in layout.tables {
                    let link = table.link.quoted
                    var data: [UInt8] = []
                    let tally = EntryTally()
                    try db.copyOut("""
                        COPY (SELECT \(table.columnNames.quotedList) FROM \(table.identifier.quoted)
                              WHERE \(link) IN (SELECT key FROM archive_keys) ORDER BY \(link)) TO STDOUT
                        """) { row in
                        tally.add(row)
                        data.append(contentsOf: row)
                    }
                    let entry = ArchiveTableData.entryName(table.name)
                    tables.append(ArchiveTableData(table: table.name, entry: entry, columns: table.columns,
                                                   rows: tally.rows, bytes: tally.bytes, sha256: try tally.sha256()))
                    entries.append((entry, data))
                }
                guard tables[0].rows == picked.affectedRows else {
                    throw JobFailure(failureClass: .transient, sqlState: nil,
                                     message: "\(spec.table): \(picked.affectedRows) keys picked but \(tables[0].rows) rows read")
                }
                let description = ArchiveDescription(catalogId: id, job: context.job.name, businessDate: context.businessDate.description,
                                                     table: spec.table, keyColumn: spec.keyColumn, firstKey: firstKey, lastKey: lastKey,
                                                     cutoff: cutoff.description, createdAt: iso8601(context.clock.now()), tables: tables)
                entries.append((ArchiveDescription.entryName, Array(try description.encoded())))
                let dataBytes = tables.reduce(0) { $0 + $1.bytes }

                // Written, fsynced and in place under its final name before anything is deleted.
                let path = "\(directory)/\(spec.table)-\(String(format: "%06d", id)).tar.zst.gpg"
                written = path
                let result = try EncryptedArchive.write(to: path, format: .tarZstd(level: context.configuration.settings.zstdLevel),
                                                        protection: keys.protection, source: ArchiveChunkSource(entries: entries, modified: modified))
                entries = []
                try OutputFile.syncDirectory(of: path)
                let read = try ArchiveCatalog.verify(path: path, pgp: keys.pgp, tables: tables)
                guard read.sha256 == result.sha256, read.bytes == result.bytes else {
                    throw JobFailure(failureClass: .transient, sqlState: nil,
                                     message: "\(path) changed on disk while it was verified (SHA-256 \(read.sha256), written \(result.sha256))")
                }

                if let beforeDelete { try db.executeScript(beforeDelete) }
                for (table, data) in zip(layout.tables, tables).reversed() {
                    let deleted = try db.query("""
                        DELETE FROM \(table.identifier) WHERE \(table.link) IN (SELECT key FROM archive_keys)
                        """).affectedRows
                    guard deleted == data.rows else {
                        throw JobFailure(failureClass: .transient, sqlState: nil,
                                         message: "\(table.name): \(deleted) rows would be deleted but \(data.rows) were archived; nothing was deleted")
                    }
                }
                try ArchiveCatalog(db: db).insert(id: id, job: context.job.name, jobRunID: context.jobRunID, businessDate: context.businessDate,
                                                  spec: spec, firstKey: firstKey, lastKey: lastKey, cutoff: cutoff, tables: tables,
                                                  path: path, bytes: result.bytes, sha256: result.sha256, dataBytes: dataBytes,
                                                  encryptedTo: keys.fingerprints)
                let childRows = tables.dropFirst().reduce(0) { $0 + $1.rows }
                try context.fence(rows: rowsSoFar + tables[0].rows)
                committing = true
                try db.query("COMMIT")
                return Archived(id: id, path: path, rows: tables[0].rows, childRows: childRows, lastKey: lastKey,
                                bytes: result.bytes, sha256: result.sha256, dataBytes: dataBytes)
            } catch {
                if !committing {
                    if db.isOpen { _ = try? db.query("ROLLBACK") }
                    // Not catalogued: its rows are still in their tables.
                    if let written { _ = unlink(written) }
                }
                // A COMMIT whose outcome is unknown leaves the file: the next attempt keeps it if
                // its catalog row exists and removes it if not.
                throw error
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
