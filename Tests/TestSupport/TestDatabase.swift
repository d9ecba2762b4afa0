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

    public init() throws {
        adminURL = try TestDatabase.serverURL()
        name = "ns_test_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
        guard let slash = adminURL.lastIndex(of: "/") else { throw TestSetupError("cannot parse \(adminURL)") }
        url = adminURL[..<slash] + "/" + name
        let admin = try PostgresConnection(conninfo: adminURL)
        defer { admin.close() }
        try admin.execute("CREATE DATABASE \(name) TEMPLATE template0 ENCODING 'UTF8'")
    }

    public func connect() throws -> PostgresConnection { try PostgresConnection(conninfo: url) }

    public func drop() {
        guard let admin = try? PostgresConnection(conninfo: adminURL) else { return }
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
