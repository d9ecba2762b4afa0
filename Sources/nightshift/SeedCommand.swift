import ArgumentParser
import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftEngine
import PostgresClient

struct SeedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Create the sample Lucky Gas ERP schema and fill it with deterministic data (replaces existing sample data).",
        discussion: "About customers × days / 3.2 deliveries; the same --seed, --customers, --days and --until give the same rows."
    )

    @OptionGroup var options: GlobalOptions

    @Option(help: "Number of customers.") var customers: Int = 5000
    @Option(help: "Number of days of history, ending at --until.") var days: Int = 30
    @Option(help: "Random seed.") var seed: Int = 42
    @Option(help: "The last business date (YYYY-MM-DD); default: yesterday in the configured time zone.") var until: String?

    func validate() throws {
        guard (1...10_000_000).contains(customers) else { throw ValidationError("--customers must be between 1 and 10,000,000") }
        guard (1...3660).contains(days) else { throw ValidationError("--days must be between 1 and 3660") }
        if let until, LocalDate(iso: until) == nil { throw ValidationError("--until \(until) is not a date; write YYYY-MM-DD") }
    }

    func run() throws {
        let configuration = try loadConfiguration(options)
        let settings = configuration.settings
        let last = until.flatMap(LocalDate.init(iso:)) ?? LocalDate(Date(), in: settings.timeZone).adding(days: -1)
        let db = try PostgresConnection(conninfo: connectionString(options, settings))
        defer { db.close() }
        let started = Date()
        let counts = try Seeder(sqlDirectory: settings.sqlDirectory).seed(on: db, customers: customers, days: days, seed: seed, until: last)
        let seconds = Date().timeIntervalSince(started)
        print("seeded \(days) days up to \(last) (seed \(seed)) in \(String(format: "%.1f", seconds)) s:")
        print("  customers \(counts.customers), orders \(counts.orders), deliveries \(counts.deliveries),")
        print("  payments \(counts.payments), invoices \(counts.invoices), cylinder movements \(counts.cylinderMovements)")
    }
}
