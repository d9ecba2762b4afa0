/// A validated job, as configured in `jobs/<name>.yaml`.
///
/// Immutable; its fields live in one shared box, so a copy is one reference count, not a dozen
/// (the planner moves 10,000 of them through graphs, queues and entries).
public struct JobDefinition: Sendable, Equatable {
    private final class Storage: Sendable {
        let name: String
        let description: String
        let kind: JobKind
        let batch: BatchKind
        let priority: Priority
        let dependsOn: [String]
        let estimateSeconds: Int
        let retries: Int
        let locks: [String]
        let timeoutSeconds: Int?
        let action: JobAction
        let deliverTo: [String]
        let keepOutputs: OutputRetention.Keep?

        init(name: String, description: String, kind: JobKind, batch: BatchKind, priority: Priority, dependsOn: [String],
             estimateSeconds: Int, retries: Int, locks: [String], timeoutSeconds: Int?, action: JobAction, deliverTo: [String],
             keepOutputs: OutputRetention.Keep?) {
            self.name = name
            self.description = description
            self.kind = kind
            self.batch = batch
            self.priority = priority
            self.dependsOn = dependsOn
            self.estimateSeconds = estimateSeconds
            self.retries = retries
            self.locks = locks
            self.timeoutSeconds = timeoutSeconds
            self.action = action
            self.deliverTo = deliverTo
            self.keepOutputs = keepOutputs
        }
    }

    private let storage: Storage

    public var name: String { storage.name }
    public var description: String { storage.description }
    public var kind: JobKind { storage.kind }
    public var batch: BatchKind { storage.batch }
    public var priority: Priority { storage.priority }
    public var dependsOn: [String] { storage.dependsOn }
    /// Declared duration estimate, used for planning until past runs exist.
    public var estimateSeconds: Int { storage.estimateSeconds }
    /// How many times a transient failure is retried (DESIGN: 3).
    public var retries: Int { storage.retries }
    /// Exclusive resources (e.g. a table): jobs sharing a lock never run at the same time.
    public var locks: [String] { storage.locks }
    /// How long one attempt may run before it is stopped and recorded `timed_out` (nil: only the
    /// batch window limits it).
    public var timeoutSeconds: Int? { storage.timeoutSeconds }
    public var action: JobAction { storage.action }
    /// The delivery targets (`deliveries:` in etc/nightshift.yaml) every output of the job goes to.
    public var deliverTo: [String] { storage.deliverTo }
    /// How long the job's published files are kept (`retention: {outputs: …}`), over its kind's
    /// (`retention.outputs` in etc/nightshift.yaml); nil: as its kind's.
    public var keepOutputs: OutputRetention.Keep? { storage.keepOutputs }

    public init(name: String, description: String, kind: JobKind, batch: BatchKind, priority: Priority,
                dependsOn: [String], estimateSeconds: Int, retries: Int, locks: [String] = [], timeoutSeconds: Int? = nil,
                action: JobAction, deliverTo: [String] = [], keepOutputs: OutputRetention.Keep? = nil) {
        storage = Storage(name: name, description: description, kind: kind, batch: batch, priority: priority, dependsOn: dependsOn,
                          estimateSeconds: estimateSeconds, retries: retries, locks: locks, timeoutSeconds: timeoutSeconds,
                          action: action, deliverTo: deliverTo, keepOutputs: keepOutputs)
    }

    /// The same job with other dependencies (an override ignoring one), under another name (a
    /// batch planned twice in one night), or at another priority (a manager's request).
    public func with(name: String? = nil, dependsOn: [String]? = nil, priority: Priority? = nil) -> JobDefinition {
        JobDefinition(name: name ?? self.name, description: description, kind: kind, batch: batch, priority: priority ?? self.priority,
                      dependsOn: dependsOn ?? self.dependsOn, estimateSeconds: estimateSeconds, retries: retries, locks: locks,
                      timeoutSeconds: timeoutSeconds, action: action, deliverTo: deliverTo, keepOutputs: keepOutputs)
    }

    public static func == (a: JobDefinition, b: JobDefinition) -> Bool {
        if a.storage === b.storage { return true }
        return a.name == b.name && a.description == b.description && a.kind == b.kind && a.batch == b.batch
            && a.priority == b.priority && a.dependsOn == b.dependsOn && a.estimateSeconds == b.estimateSeconds
            && a.retries == b.retries && a.locks == b.locks && a.timeoutSeconds == b.timeoutSeconds && a.action == b.action
            && a.deliverTo == b.deliverTo && a.keepOutputs == b.keepOutputs
    }
}

/// What the job runs. SQL paths are relative to the `sql/` directory.
public enum JobAction: Sendable, Equatable {
    case aggregation(sql: String)
    case calculation(CalculationSpec)
    case export(ExportSpec)
    case report(ReportSpec)
    case archive(ArchiveSpec)
}

public struct CalculationSpec: Sendable, Equatable {
    /// Creates the staging table; `{{staging}}` names it.
    public let stagingSQL: String
    /// Fills `{{staging}}` with the next chunk after `nightshift.after_key` (at most `nightshift.chunk_size` rows).
    public let stageSQL: String
    /// Writes the staged chunk to its destination.
    public let applySQL: String
    /// The staging table's column holding the primary key of the processed records.
    public let keyColumn: String
    public let chunkSize: Int
    /// Selects `key` (and optionally `record`, the row as JSON) of the next chunk, like the stage
    /// SQL: with it, a bad record is isolated and set aside for review instead of failing the job.
    public let keysSQL: String?
    /// More bad records than this in one run fail the job.
    public let maxRejects: Int
    /// Run after the last chunk, before the job is done: each must say `ok`.
    public let checks: [CalculationCheck]

    public init(stagingSQL: String, stageSQL: String, applySQL: String, keyColumn: String, chunkSize: Int, keysSQL: String? = nil,
                maxRejects: Int = 50, checks: [CalculationCheck] = []) {
        self.checks = checks
        self.stagingSQL = stagingSQL
        self.stageSQL = stageSQL
        self.applySQL = applySQL
        self.keyColumn = keyColumn
        self.chunkSize = chunkSize
        self.keysSQL = keysSQL
        self.maxRejects = maxRejects
    }
}

/// A check a calculation must pass before it is done: a query (in sql/) returning one row with a
/// boolean `ok`; its other columns are the figures shown when it fails (totals that must
/// reconcile, counts that must match, amounts that must not be negative).
public struct CalculationCheck: Sendable, Equatable {
    public let name: String
    public let sql: String

    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }
}

/// The container of an export's files: zip (deflate) or tar.zst.
public enum ExportFormat: String, Sendable, Equatable, CaseIterable {
    case zip
    case tarZstd = "tar.zst"
}

public struct ExportSpec: Sendable, Equatable {
    /// A SELECT whose rows become the CSV files.
    public let querySQL: String
    /// Output base name; `{date}` becomes the business date.
    public let fileName: String
    /// Rows per CSV file, each in an archive of its own (DESIGN: 50,000).
    public let rowsPerFile: Int
    /// OpenPGP recipients (e-mail or fingerprint); empty: the archives are not encrypted.
    public let recipients: [String]
    public let format: ExportFormat
    /// The job says its rows carry customer data: it must be encrypted to someone.
    public let customerData: Bool
    /// Sign each archive and the manifest with the configured signing key.
    public let sign: Bool
    /// The query's ascending bigint key column. With it, the query is read in key order one part
    /// at a time (`nightshift.after_key()`, `nightshift.chunk_size()`), so the server never sorts
    /// the whole result before the first row arrives.
    public let keyColumn: String?

    public init(querySQL: String, fileName: String, rowsPerFile: Int, recipients: [String], format: ExportFormat = .zip,
                customerData: Bool = false, sign: Bool = false, keyColumn: String? = nil) {
        self.querySQL = querySQL
        self.fileName = fileName
        self.rowsPerFile = rowsPerFile
        self.recipients = recipients
        self.format = format
        self.customerData = customerData
        self.sign = sign
        self.keyColumn = keyColumn
    }

    public func baseName(for date: LocalDate) -> String {
        fileName.replacingOccurrences(of: "{date}", with: date.description)
    }
}
