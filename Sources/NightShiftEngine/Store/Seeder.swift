import Foundation
import NightShiftCore
import PostgresClient

/// Installs the sample Lucky Gas ERP schema (migrations in `sql/erp/`) and fills it with
/// deterministic data (`sql/erp/seed.sql`): the same parameters always give the same rows.
public struct Seeder {
    public let sqlDirectory: String

    public init(sqlDirectory: String) { self.sqlDirectory = sqlDirectory }

    public struct Counts: Sendable {
        public let customers, orders, deliveries, payments, invoices, cylinderMovements: Int
    }

    public func seed(on db: PostgresConnection, customers: Int, days: Int, seed: Int, until: LocalDate) throws -> Counts {
        try Migrator(set: "erp", directory: "\(sqlDirectory)/erp").apply(on: db)
        let script = try String(contentsOfFile: "\(sqlDirectory)/erp/seed.sql", encoding: .utf8)
        return try db.transaction {
            try db.setParameters([("seed", String(seed)), ("seed_customers", String(customers)),
                                  ("seed_days", String(days)), ("seed_until", until.description)])
            let result = try db.executeScript(script)
            return Counts(customers: result.int(0, "customers") ?? 0, orders: result.int(0, "orders") ?? 0,
                          deliveries: result.int(0, "deliveries") ?? 0, payments: result.int(0, "payments") ?? 0,
                          invoices: result.int(0, "invoices") ?? 0, cylinderMovements: result.int(0, "cylinder_movements") ?? 0)
        }
    }
}
