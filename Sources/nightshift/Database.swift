import ArgumentParser
import Foundation
import NightShiftConfig
import NightShiftEngine
import PostgresClient

/// The connection string chosen by precedence: --database-url, etc/ `database.url`, DATABASE_URL, PG*.
func connectionString(_ options: GlobalOptions, _ settings: RunnerSettings?) -> String {
    if let url = options.databaseURL { return url }
    let environment = ProcessInfo.processInfo.environment
    return settings?.connectionString(environment: environment) ?? environment["DATABASE_URL"] ?? ""
}

/// Applies pending runner migrations and makes the database's copy of the people's rules
/// (nightshift.operators, nightshift.request_policy) equal to etc/. The runner's login only.
@discardableResult
func prepareRunnerSchema(_ configuration: Configuration, db: PostgresConnection) throws -> [Migrator.Migration] {
    let applied = try Migrator(set: "runner", directory: "\(configuration.settings.sqlDirectory)/runner").apply(on: db)
    try OperatorsTable(db: db).sync(configuration.requestPolicy, zone: configuration.settings.timeZone)
    return applied
}

/// A person's own database login: the configured URL, logged in as this process's
/// operating-system account (the server decides whether it may).
func personConnection(_ options: GlobalOptions, _ configuration: Configuration) throws -> PostgresConnection {
    try PostgresConnection(conninfo: connectionString(options, configuration.settings), user: OperatorIdentity.processAccount())
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

