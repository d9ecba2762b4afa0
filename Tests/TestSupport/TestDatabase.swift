import Foundation
import PostgresClient

/// A fresh, empty database on the throwaway server that `scripts/test` starts, dropped by `drop()`.
/// Tests that need PostgreSQL fail (they do not skip) when the server is not there.
public final class TestDatabase {
    public let name: String
    public let url: String
    private let adminURL: String

    public static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["NIGHTSHIFT_TEST_DATABASE_URL"], !url.isEmpty else {
            throw TestSetupError("NIGHTSHIFT_TEST_DATABASE_URL is not set: run the tests with ./scripts/test, which starts a throwaway PostgreSQL")
        }
        return url
    }

    /// Whether `drop()` drops it (false: a database this object did not create).
    private let owned: Bool

    /// A database that exists already (a private cluster's `nightshift`, through a multi-host URL):
    /// used as it is, never dropped.
    public init(existing url: String) {
        name = "nightshift"
        self.url = url
        adminURL = url
        owned = false
    }

    public init() throws {
        owned = true
        adminURL = try TestDatabase.serverURL()
        name = "ns_test_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
        url = try TestDatabase.url(adminURL, database: name)
        let admin = try PostgresConnection(conninfo: adminURL)
        defer { admin.close() }
        try admin.execute("CREATE DATABASE \(name) TEMPLATE template0 ENCODING 'UTF8'")
    }

    public func connect() throws -> PostgresConnection { try PostgresConnection(conninfo: url) }

    /// `url` (postgresql://user@host/db?params, or with the host in `?host=` for a socket) naming `database` instead.
    public static func url(_ url: String, database: String) throws -> String {
        let parts = url.split(separator: "?", maxSplits: 1)
        guard let base = parts.first, let slash = base.range(of: "/", options: .backwards), base.hasPrefix("postgresql://") else {
            throw TestSetupError("cannot parse \(url)")
        }
        return base[..<slash.upperBound] + database + (parts.count > 1 ? "?" + parts[1] : "")
    }

    /// A database role for the operating-system account `account` (peer authentication maps the
    /// account to it on the server's socket) that may call the request functions. Roles belong to
    /// the whole server: made once, shared by every test database.
    public static func person(_ account: String) throws {
        guard (try? /^[a-z_][a-z0-9_]*$/.wholeMatch(in: account)) != nil else { throw TestSetupError("not a role name: \(account)") }
        let admin = try PostgresConnection(conninfo: try serverURL())
        defer { admin.close() }
        // Identifiers cannot be bound; the name was checked above. Several tests may do this at once.
        try admin.execute("""
            DO $$ BEGIN
                BEGIN CREATE ROLE nightshift_requester NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
                BEGIN CREATE ROLE \(account) LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
            END $$
            """)
        try admin.execute("GRANT nightshift_requester TO \(account)")
    }

    public func drop() {
        guard owned, let admin = try? PostgresConnection(conninfo: adminURL) else { return }
        defer { admin.close() }
        _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }
}

/// The repository root, found from this source file's location.
public func repositoryRoot(_ file: String = #filePath) -> String {
    var url = URL(fileURLWithPath: file)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
    }
    fatalError("Package.swift not found above \(file)")
}
