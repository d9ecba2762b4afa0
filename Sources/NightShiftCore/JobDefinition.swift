/// A validated job, as configured in `jobs/<name>.yaml`.
public struct JobDefinition: Sendable, Equatable {
    public let name: String
    public let description: String
    public let kind: JobKind
    public let batch: BatchKind
    public let priority: Priority
    public let dependsOn: [String]
    /// Declared duration estimate, used for planning until past runs exist.
    public let estimateSeconds: Int
    /// How many times a transient failure is retried (DESIGN: 3).
    public let retries: Int
    /// Exclusive resources (e.g. a table): jobs sharing a lock never run at the same time.
    public let locks: [String]
    /// How long one attempt may run before it is stopped and recorded `timed_out` (nil: only the
    /// batch window limits it).
    public let timeoutSeconds: Int?
    public let action: JobAction

    public init(name: String, description: String, kind: JobKind, batch: BatchKind, priority: Priority,
                dependsOn: [String], estimateSeconds: Int, retries: Int, locks: [String] = [], timeoutSeconds: Int? = nil,
                action: JobAction) {
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
    }
}

/// What the job runs. SQL paths are relative to the `sql/` directory.
public enum JobAction: Sendable, Equatable {
    case aggregation(sql: String)
    case calculation(CalculationSpec)
    case export(ExportSpec)
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

    public init(stagingSQL: String, stageSQL: String, applySQL: String, keyColumn: String, chunkSize: Int) {
        self.stagingSQL = stagingSQL
        self.stageSQL = stageSQL
        self.applySQL = applySQL
        self.keyColumn = keyColumn
        self.chunkSize = chunkSize
    }
}

public struct ExportSpec: Sendable, Equatable {
    /// A SELECT whose rows become the CSV files.
    public let querySQL: String
    /// Output base name; `{date}` becomes the business date.
    public let fileName: String
    /// Rows per CSV file inside the archive (DESIGN: 50,000).
    public let rowsPerFile: Int
    /// The OpenPGP recipient (e-mail or fingerprint).
    public let recipient: String

    public init(querySQL: String, fileName: String, rowsPerFile: Int, recipient: String) {
        self.querySQL = querySQL
        self.fileName = fileName
        self.rowsPerFile = rowsPerFile
        self.recipient = recipient
    }

    public func baseName(for date: LocalDate) -> String {
        fileName.replacingOccurrences(of: "{date}", with: date.description)
    }
}

import Foundation
