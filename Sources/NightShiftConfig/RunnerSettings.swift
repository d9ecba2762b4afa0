import Foundation
import NightShiftCore

/// `etc/nightshift.yaml`, validated. Paths are absolute.
public struct RunnerSettings: Sendable {
    public let root: String
    public let timeZone: TimeZone
    /// `environment:` development, staging or production. In production a manager's request runs
    /// only after a second manager approves it.
    public let environment: String
    public var isProduction: Bool { environment == "production" }
    /// libpq URI or conninfo; empty means DATABASE_URL, else the PG* variables.
    public let databaseURL: String
    public let jobsDirectory: String
    public let sqlDirectory: String
    public let templatesDirectory: String
    public let exportsDirectory: String
    public let outboxDirectory: String
    /// The watched folder for event files (`paths.inbox`), with processing/, processed/ and rejected/ inside.
    public let inboxDirectory: String
    /// Report files (`paths.reports`), a folder per job inside.
    public let reportsDirectory: String
    /// Archive jobs' encrypted archives (`paths.archives`), a folder per job inside.
    public let archivesDirectory: String
    public let keyring: String
    /// The default export recipient (a job may name its own `recipients:`).
    public let recipient: String
    /// deflate level of zip exports (0–9).
    public let compressionLevel: Int
    /// zstd level of tar.zst exports (1–19).
    public let zstdLevel: Int
    /// Threads compressing and encrypting an export's parts at once (`export.threads`).
    public let exportThreads: Int
    /// The key (fingerprint or e-mail, its secret part in the keyring) that signs exports and
    /// their manifests when a job says `sign: true`.
    public let signingKey: String?
    /// `mail:` — sender, recipients, the SMTP server and the outbox's retries.
    public let mail: MailSettings
    public let retries: Int
    public let retryDelaySeconds: Int
    /// Job slots of each runner (`limits.concurrent_jobs`): its worker threads, and what `plan` simulates.
    public let concurrentJobs: Int
    /// Batch runs that may have work under way at once.
    public let maxConcurrentBatches: Int
    /// Above this 1-minute load, as a percentage of the cores, P4 work waits and running P4 work pauses.
    public let maxLoadPercent: Int
    /// Below this free percentage of the exports volume, exports wait.
    public let minExportsFreePercent: Int
    /// Database connections one runner may open (`limits.max_connections`).
    public let maxConnections: Int
    /// Database connections all live runners together may open (`limits.total_connections`); a
    /// runner that would pass it waits before it starts.
    public let totalConnections: Int

    /// The connections a runner keeps open: one each for the scheduler, intake, dispatcher,
    /// rescuer, upkeep, mail sender and heartbeat, one for registration or `run --once`, and two
    /// per job slot (its job and its bookkeeping).
    public static let serviceConnections = 8
    public static func connectionsNeeded(slots: Int) -> Int { serviceConnections + 2 * slots }
    public let schedules: [BatchKind: BatchSchedule]
    /// `runner:` — how the long-running service works.
    public let service: ServiceSettings
    /// `month_end_close:` — the monthly batch waits until its month is closed (a
    /// `month_end_close_done` event for that month, or `monthEndCheck` returning true).
    public let monthlyWaitsForClose: Bool
    /// A query in sql/ (relative path) that says whether the month of `nightshift.business_date` is closed.
    public let monthEndCheck: String?
    /// `api:` — the HTTP trigger served by `nightshift run` (nil: none).
    public let api: APISettings?
    /// `console:` — the web console, served by `nightshift run` (nil: none).
    public var console: ConsoleSettings?
    /// `metrics:` — Prometheus metrics (nil: none).
    public var metrics: MetricsSettings? = nil
    /// `deliveries:` — where jobs deliver their outputs (`deliver_to:` in a job file), by name.
    public var deliveries: [String: DeliveryTarget] = [:]
    /// `retention:` — days of run history (batch and job runs, transitions, outputs, alerts,
    /// finished requests) and of sent mail the service keeps.
    public var historyDays = 400
    public var mailDays = 90
    /// `retention.outputs`: how long published files are kept, by kind (over `OutputRetention.defaults`).
    public var keepOutputs: [OutputRetention.Kind: OutputRetention.Keep] = [:]

    /// The connections one runner opens with this configuration (the HTTP trigger has its own).
    public var connectionsPerRunner: Int {
        Self.connectionsNeeded(slots: concurrentJobs) + (api == nil ? 0 : 1) + (deliveries.isEmpty ? 0 : 1) + (console == nil ? 0 : 1)
    }

    /// The connection string to use: the configured URL, else DATABASE_URL, else "" (PG* variables).
    public func connectionString(environment: [String: String]) -> String {
        if !databaseURL.isEmpty { return databaseURL }
        return environment["DATABASE_URL"] ?? ""
    }

    static func read(root: String, diagnostics: Diagnostics) -> RunnerSettings? {
        let file = "etc/nightshift.yaml"
        let path = "\(root)/\(file)"
        let before = diagnostics.errors.count
        guard let top = MappingReader.open(path: path, file: file, diagnostics: diagnostics, problem: "cannot read \(path)",
                                           fix: "run nightshift from the directory holding etc/ or pass --root DIR") else { return nil }

        let zoneName = top.string("timezone", required: false, example: "Asia/Taipei") ?? "Asia/Taipei"
        let zone = TimeZone(identifier: zoneName)
        if zone == nil {
            top.error("timezone", line: nil, "`\(zoneName)` is not an IANA time zone", fix: "use a name like Asia/Taipei")
        }
        let environment = top.scalar("environment", required: false, expected: "development, staging or production",
                                     example: "production") { ["development", "staging", "production"].contains($0) ? $0 : nil }
            ?? "development"
        let database = top.mapping("database", required: false, example: "`url: \"\"`")
        let url = database?.string("url", required: false, example: "postgresql://user@host:5432/db") ?? ""
        database?.finish()

        let paths = top.mapping("paths", required: false, example: "`jobs: jobs`")
        func dir(_ key: String, _ fallback: String) -> String {
            let value = paths?.string(key, required: false, example: fallback) ?? fallback
            return value.hasPrefix("/") ? value : "\(root)/\(value)"
        }
        let jobs = dir("jobs", "jobs"), sql = dir("sql", "sql"), templates = dir("templates", "templates")
        let exports = dir("exports", "var/exports"), outbox = dir("outbox", "var/outbox"), inbox = dir("inbox", "var/inbox")
        let reports = dir("reports", "var/reports"), archives = dir("archives", "var/archives")
        // Inputs must be directories that exist; outputs are created when first needed, but what
        // is there already must be a directory.
        for (key, path, mustExist) in [("jobs", jobs, true), ("sql", sql, true), ("templates", templates, true),
                                       ("exports", exports, false), ("outbox", outbox, false), ("inbox", inbox, false),
                                       ("reports", reports, false), ("archives", archives, false)] {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            let line = paths?.line(of: key)
            if exists && !isDirectory.boolValue {
                diagnostics.add(ConfigError(file: file, line: line, key: "paths.\(key)", problem: "\(path) is a file, not a directory",
                                            fix: "point paths.\(key) at a directory (or move the file away)"))
            } else if !exists && mustExist {
                diagnostics.add(ConfigError(file: file, line: line, key: "paths.\(key)", problem: "directory \(path) does not exist",
                                            fix: "create it or correct paths.\(key) (relative to the directory holding etc/)"))
            }
        }
        paths?.finish()

        let export = top.mapping("export", required: true, example: "`recipient: exports@example.com`")
        let keyringValue = export?.string("keyring", required: true, example: "var/gnupg") ?? ""
        let recipient = export?.string("recipient", required: true, example: "exports@luckygas.example") ?? ""
        let level = export?.int("compression_level", range: 0...9, example: "6") ?? 6
        let zstdLevel = export?.int("zstd_level", range: 1...19, example: "3") ?? 3
        let threads = export?.int("threads", range: 1...32, example: "2") ?? 2
        let signingKey = export?.string("signing_key", required: false, example: "signing@luckygas.example")
        export?.finish()

        let mail = MailSettings.read(top.mapping("mail", required: true, example: "`from: NightShift <nightshift@example.com>`"), root: root)

        let limits = top.mapping("limits", required: false, example: "`retries: 3`")
        let retries = limits?.int("retries", range: 0...10, example: "3") ?? 3
        let delay = limits?.int("retry_delay_seconds", range: 0...3600, example: "5") ?? 5
        let concurrent = limits?.int("concurrent_jobs", range: 1...50, example: "2") ?? 2
        let batchesAtOnce = limits?.int("max_concurrent_batches", range: 1...20, example: "2") ?? 2
        let loadPercent = limits?.int("max_load_percent", range: 1...10_000, example: "80") ?? 80
        let exportsFree = limits?.int("min_exports_free_percent", range: 0...99, example: "20") ?? 20
        let connections = limits?.int("max_connections", range: 9...500, example: "12") ?? 12
        let totalConnections = limits?.int("total_connections", range: 9...10_000, example: "50") ?? 50
        let api = APISettings.read(top.mapping("api", required: false, example: "`listen: \"127.0.0.1:8470\"`"), root: root)
        let deliveries = DeliveryTarget.readAll(top.mapping("deliveries", required: false, example: "`bank: {url: sftp://user@host/folder, …}`"),
                                                root: root)
        let console = ConsoleSettings.read(top.mapping("console", required: false, example: "`listen: \"127.0.0.1:8480\"`"), root: root)
        let needed = RunnerSettings.connectionsNeeded(slots: concurrent) + (api == nil ? 0 : 1) + (deliveries.isEmpty ? 0 : 1) + (console == nil ? 0 : 1)
        if let limits, needed > connections {
            limits.error("max_connections", line: limits.line(of: "max_connections") ?? limits.line(of: "concurrent_jobs"),
                         "\(concurrent) job slots need \(needed) connections (\(RunnerSettings.serviceConnections) for the runner's services\(api == nil ? "" : ", 1 for the HTTP API")\(deliveries.isEmpty ? "" : ", 1 for the delivery sender")\(console == nil ? "" : ", 1 for the console"), 2 per slot), over max_connections: \(connections)",
                         fix: "raise limits.max_connections to at least \(needed), or lower limits.concurrent_jobs")
        }
        if let limits, connections > totalConnections {
            limits.error("max_connections", line: limits.line(of: "max_connections"),
                         "one runner may open \(connections) connections, more than total_connections: \(totalConnections) for all runners",
                         fix: "lower limits.max_connections or raise limits.total_connections")
        }
        limits?.finish()
        let schedules = BatchesSection.read(top.mapping("batches", required: false, example: "`daily: {cron: \"0 2 * * *\"}`"))
        let service = ServiceSettings.read(top.mapping("runner", required: false, example: "`lease_seconds: 30`"), workers: concurrent)
        let monthEnd = top.mapping("month_end_close", required: false, example: "`wait: true`")
        let waitForClose = monthEnd?.scalar("wait", required: false, expected: "true or false", example: "true") { ["true": true, "false": false][$0] }
            ?? true
        let check = monthEnd?.string("check", required: false, example: "checks/month_end_closed.sql")
        if let monthEnd, let check {
            switch ConfigText.inside(sql, check) {
            case let .failure(failure): monthEnd.error("check", line: monthEnd.line(of: "check"), failure.problem, fix: failure.fix)
            case let .success(path) where !FileManager.default.fileExists(atPath: path):
                monthEnd.error("check", line: monthEnd.line(of: "check"), "sql/\(check) does not exist",
                               fix: "write the query there (it returns one boolean) or remove month_end_close.check")
            case .success: break
            }
        }
        monthEnd?.finish()
        let metrics = MetricsSettings.read(top.mapping("metrics", required: false, example: "`listen: \"127.0.0.1:9464\"`"), root: root)
        let retention = top.mapping("retention", required: false, example: "`history_days: 400`")
        let historyDays = retention?.int("history_days", range: 7...36_500, example: "400") ?? 400
        let mailDays = retention?.int("mail_days", range: 1...36_500, example: "90") ?? 90
        var keepOutputs: [OutputRetention.Kind: OutputRetention.Keep] = [:]
        if let outputs = retention?.mapping("outputs", required: false, example: "`{export: 7 years, report: 1 year}`") {
            for kind in OutputRetention.Kind.allCases {
                guard let keep = outputs.scalar(kind.rawValue, required: false, expected: "a time such as `1 year` or `90 days`, or `never`",
                                                example: "\(OutputRetention.defaults[kind]!)", { OutputRetention.Keep(text: $0) }) else { continue }
                if let problem = OutputRetention.problem(keep, kind: kind) {
                    outputs.error(kind.rawValue, line: outputs.line(of: kind.rawValue), problem,
                                  fix: "keep them `\(OutputRetention.regulatoryMinimum)` or longer, or `never`")
                }
                keepOutputs[kind] = keep
            }
            outputs.finish()
        }
        retention?.finish()
        top.finish()

        guard diagnostics.errors.count == before, let zone, let mail else { return nil }
        var settings = RunnerSettings(root: root, timeZone: zone, environment: environment, databaseURL: url, jobsDirectory: jobs, sqlDirectory: sql,
                              templatesDirectory: templates, exportsDirectory: exports, outboxDirectory: outbox, inboxDirectory: inbox,
                              reportsDirectory: reports, archivesDirectory: archives, keyring: keyringValue.hasPrefix("/") ? keyringValue : "\(root)/\(keyringValue)",
                              recipient: recipient, compressionLevel: level, zstdLevel: zstdLevel, exportThreads: threads,
                              signingKey: signingKey, mail: mail,
                              retries: retries, retryDelaySeconds: delay, concurrentJobs: concurrent,
                              maxConcurrentBatches: batchesAtOnce, maxLoadPercent: loadPercent, minExportsFreePercent: exportsFree,
                              maxConnections: connections, totalConnections: totalConnections,
                              schedules: schedules,
                              service: service, monthlyWaitsForClose: waitForClose, monthEndCheck: check, api: api)
        settings.metrics = metrics
        settings.deliveries = deliveries
        settings.console = console
        settings.historyDays = historyDays
        settings.mailDays = mailDays
        settings.keepOutputs = keepOutputs
        return settings
    }
}
