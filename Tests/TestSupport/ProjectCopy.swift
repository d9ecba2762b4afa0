import Foundation

/// A copy of the repository's etc/, jobs/, sql/ and templates/ in a temporary directory, for
/// tests that change configuration or jobs without touching the repository.
public final class ProjectCopy {
    public let directory: TemporaryDirectory
    public var root: String { directory.path }

    public init() throws {
        directory = try TemporaryDirectory("nightshift-root")
        let source = repositoryRoot()
        for folder in ["etc", "jobs", "sql", "templates"] {
            try FileManager.default.copyItem(atPath: "\(source)/\(folder)", toPath: "\(root)/\(folder)")
        }
    }

    public func write(_ relative: String, _ text: String) throws {
        let path = "\(root)/\(relative)"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    public func read(_ relative: String) throws -> String {
        try String(contentsOfFile: "\(root)/\(relative)", encoding: .utf8)
    }

    public func remove(_ relative: String) throws {
        try FileManager.default.removeItem(atPath: "\(root)/\(relative)")
    }

    /// Points etc/nightshift.yaml at a keyring and recipient, keeps outputs inside the copy and
    /// makes retries immediate.
    /// Writes etc/nightshift.yaml for a test: one job slot per runner unless asked, and a load
    /// limit the test suite's own load cannot reach unless asked.
    public func configure(keyring: String, recipient: String, retries: Int = 3, concurrentJobs: Int = 1,
                          maxLoadPercent: Int = 10_000, maxConnections: Int = 10) throws {
        try write("etc/nightshift.yaml", """
            timezone: Asia/Taipei
            database:
              url: ""
            paths:
              exports: var/exports
              outbox: var/outbox
            export:
              keyring: \(keyring)
              recipient: \(recipient)
              compression_level: 6
            mail:
              from: "NightShift <nightshift@luckygas.test>"
              to:
                - "營運主管 <ops@luckygas.test>"
            limits:
              retries: \(retries)
              retry_delay_seconds: 0
              concurrent_jobs: \(concurrentJobs)
              max_load_percent: \(maxLoadPercent)
              max_connections: \(maxConnections)
            """)
    }

    public func cleanup() { directory.remove() }
}
