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
        // The account running the tests may do everything (a director); others are set per test.
        try operators([currentAccount(): "director"])
    }

    /// The four jobs the runner-service tests were built around (an aggregation, a checkpointed
    /// calculation, an export after both, a P4 trend), and no other job of any batch: those tests are
    /// about leases, crashes, windows and requests, and their timings assume this night. The full
    /// job sets are run by DailyBatchTests, ReportExecutorTests and JobSetsTests.
    public static let coreJobs = ["daily_sales_summary", "delivery_charges", "daily_delivery_export", "customer_consumption"]

    public func keepOnlyCoreJobs() throws {
        for file in try FileManager.default.contentsOfDirectory(atPath: "\(root)/jobs")
        where file.hasSuffix(".yaml") && !ProjectCopy.coreJobs.contains(String(file.dropLast(5))) {
            try remove("jobs/\(file)")
        }
    }

    /// Writes etc/operators.yaml with these accounts and roles.
    public func operators(_ accounts: [String: String], quotaPerDay: Int = 3, approvalHours: Int = 24) throws {
        let lines = accounts.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }.joined(separator: "\n")
        try write("etc/operators.yaml", "accounts:\n\(lines)\nquota_per_day: \(quotaPerDay)\napproval_hours: \(approvalHours)\n")
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
                          maxLoadPercent: Int = 10_000, maxConnections: Int = 12, signingKey: String? = nil,
                          exportThreads: Int = 2) throws {
        try write("etc/nightshift.yaml", """
            timezone: Asia/Taipei
            environment: development
            database:
              url: ""
            paths:
              exports: var/exports
              outbox: var/outbox
            export:
              keyring: \(keyring)
              recipient: \(recipient)
              compression_level: 6
              threads: \(exportThreads)
              signing_key: \(signingKey ?? recipient)
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

/// The operating-system account this process runs as (its effective uid): the database role a
/// person's NightShift commands log in as, through peer authentication. Read independently of
/// NightShift's code, from the password database.
public func currentAccount() -> String {
    let uid = geteuid()
    guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid:\(uid)" }
    return String(cString: name)
}
