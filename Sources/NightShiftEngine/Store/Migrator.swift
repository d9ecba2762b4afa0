import Foundation
import Packaging
import PostgresClient

/// Applies numbered SQL migrations (`NNNN_name.sql`) from a directory, each in its own
/// transaction together with its row in `nightshift.schema_migrations`: a migration that fails
/// leaves the database as it was, and applying twice is a no-op. A migration whose file changed
/// after it was applied is an error (its checksum is recorded).
public struct Migrator {
    public struct Migration: Equatable {
        public let version: Int
        public let name: String
        public let path: String
        public let sql: String
        public let checksum: String
    }

    public struct Problem: Error, CustomStringConvertible {
        public let file: String
        public let message: String
        public let fix: String
        public var description: String { "\(file): \(message). Fix: \(fix)" }
    }

    /// The family of migrations (`runner`, `erp`), recorded with each version.
    public let set: String
    public let directory: String

    public init(set: String, directory: String) {
        self.set = set
        self.directory = directory
    }

    public func migrations() throws -> [Migration] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        var result: [Migration] = []
        for name in names where name.hasSuffix(".sql") {
            guard let match = try? /^(\d{4})_([a-z0-9_]+)\.sql$/.wholeMatch(in: name) else {
                if name.first?.isNumber == true {
                    throw Problem(file: "\(directory)/\(name)", message: "not a migration file name",
                                  fix: "name migrations NNNN_description.sql (four digits, lower-case words)")
                }
                continue
            }
            let version = Int(match.1)!
            if let previous = result.last, previous.version == version {
                throw Problem(file: "\(directory)/\(name)", message: "version \(version) is used twice",
                              fix: "give each migration its own number")
            }
            let path = "\(directory)/\(name)"
            let sql = try String(contentsOfFile: path, encoding: .utf8)
            let hasher = SHA256()
            hasher.update(Array(sql.utf8))
            result.append(Migration(version: version, name: String(match.2), path: path, sql: sql, checksum: try hasher.finalize()))
        }
        return result
    }

    /// Applies what is missing; returns the migrations applied now (empty when up to date).
    @discardableResult
    public func apply(on db: PostgresConnection) throws -> [Migration] {
        let all = try migrations()
        try db.query("CREATE SCHEMA IF NOT EXISTS nightshift")
        try db.query("""
            CREATE TABLE IF NOT EXISTS nightshift.schema_migrations (
                set_name   text        NOT NULL,
                version    int         NOT NULL,
                name       text        NOT NULL,
                checksum   text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                PRIMARY KEY (set_name, version))
            """)
        // One migrator at a time per database and set.
        try db.query("SELECT pg_advisory_lock(hashtext('nightshift.migrate.' || \(set)))")
        defer { _ = try? db.query("SELECT pg_advisory_unlock(hashtext('nightshift.migrate.' || \(set)))") }

        let applied = try db.query("SELECT version, checksum FROM nightshift.schema_migrations WHERE set_name = \(set)")
        var done: [Int: String] = [:]
        for (version, checksum) in try applied.decode(of: "nightshift.schema_migrations", id: "version", {
            (try $0.int("version"), try $0.optionalText("checksum"))
        }) {
            done[version] = checksum
        }

        var appliedNow: [Migration] = []
        for migration in all {
            if let checksum = done[migration.version] {
                if checksum != migration.checksum {
                    throw Problem(file: migration.path, message: "was changed after it was applied (checksum differs)",
                                  fix: "restore the applied version and put the change in a new migration")
                }
                continue
            }
            try db.transaction {
                try db.executeScript(migration.sql)
                try db.query("INSERT INTO nightshift.schema_migrations (set_name, version, name, checksum) VALUES (\(set), \(migration.version), \(migration.name), \(migration.checksum))")
            }
            appliedNow.append(migration)
        }
        return appliedNow
    }
}
