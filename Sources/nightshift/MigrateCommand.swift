import ArgumentParser
import Foundation
import NightShiftConfig
import NightShiftEngine
import PostgresClient

struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the runner's schema migrations (sql/runner/NNNN_*.sql) that are not applied yet, and copy the people's rules into the database.",
        discussion: "Each migration runs in its own transaction with its record in nightshift.schema_migrations; running it again is a no-op. Then nightshift.operators and nightshift.request_policy are made equal to etc/operators.yaml and `environment:` (the request functions decide roles, quota and approval from them; every `run` does this too)."
    )

    @OptionGroup var options: GlobalOptions

    func run() throws {
        let configuration = try loadConfiguration(options)
        let db = try PostgresConnection(conninfo: connectionString(options, configuration.settings))
        defer { db.close() }
        let applied = try prepareRunnerSchema(configuration, db: db)
        if applied.isEmpty {
            print("runner schema is up to date")
        } else {
            for migration in applied { print("applied runner migration \(String(format: "%04d", migration.version)) \(migration.name)") }
        }
    }
}
