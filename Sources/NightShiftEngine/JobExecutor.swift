import Foundation
import Logging
import NightShiftConfig
import NightShiftCore
import PostgresClient

/// Everything one job attempt needs. `db` is a fresh connection owned by this attempt.
public struct JobContext {
    public let job: JobDefinition
    public let jobRunID: Int
    public let businessDate: LocalDate
    public let configuration: Configuration
    public let db: PostgresConnection
    public let logger: Logger

    /// The bound run-time parameters every job transaction starts with (see `nightshift.business_date()`).
    var parameters: [(String, String)] {
        [("business_date", businessDate.description), ("time_zone", configuration.settings.timeZone.identifier)]
    }
}

/// Runs one kind of job. Throws on failure; the runner classifies, records and retries.
public protocol JobExecutor {
    func execute(_ context: JobContext) throws -> JobOutcome
}

enum Executors {
    static func executor(for action: JobAction) -> JobExecutor {
        switch action {
        case let .aggregation(sql): AggregationExecutor(sqlFile: sql)
        case let .calculation(spec): CalculationExecutor(spec: spec)
        case let .export(spec): ExportExecutor(spec: spec)
        }
    }
}
