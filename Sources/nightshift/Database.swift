import ArgumentParser
import Foundation
import NightShiftConfig
import PostgresClient

/// The connection string chosen by precedence: --database-url, etc/ `database.url`, DATABASE_URL, PG*.
func connectionString(_ options: GlobalOptions, _ settings: RunnerSettings?) -> String {
    if let url = options.databaseURL { return url }
    let environment = ProcessInfo.processInfo.environment
    return settings?.connectionString(environment: environment) ?? environment["DATABASE_URL"] ?? ""
}

/// Loads the configuration, printing every problem and exiting 2 when it is invalid.
func loadConfiguration(_ options: GlobalOptions) throws -> Configuration {
    let (configuration, errors) = Configuration.check(root: options.absoluteRoot)
    guard let configuration else {
        for error in errors { printError("error: \(error)") }
        printError("\(errors.count) configuration error\(errors.count == 1 ? "" : "s"); run `nightshift check` after fixing them")
        throw ExitCode(2)
    }
    return configuration
}

