import Foundation
import NightShiftEngine
import PostgresClient
import TestSupport
import XCTest

/// Every state machine has one home: each enum that decodes a column equals the column's CHECK
/// constraint in a freshly migrated database, and every CHECK that lists values is tied to an
/// enum. The next state added on one side only fails here.
final class SchemaStatesTests: XCTestCase {
    var database: TestDatabase!
    var db: PostgresConnection!

    override func setUpWithError() throws {
        database = try TestDatabase()
        db = try database.connect()
        try Migrator(set: "runner", directory: "\(repositoryRoot())/sql/runner").apply(on: db)
    }

    override func tearDown() {
        db?.close()
        database?.drop()
    }

    func testEveryEnumEqualsItsColumnsCheckConstraint() throws {
        let checks = try db.execute("""
            SELECT conrelid::regclass::text AS table_name, conname, pg_get_constraintdef(oid) AS definition
            FROM pg_constraint WHERE contype = 'c' AND connamespace = 'nightshift'::regnamespace ORDER BY 1, 2
            """)
        // (table, column) → the values the constraint allows, from the forms PostgreSQL prints:
        // `(state = ANY (ARRAY['a'::text, 'b'::text]))` and `((priority >= 1) AND (priority <= 4))`.
        var allowed: [String: Set<String>] = [:]
        for row in checks.rows(of: "pg_constraint", id: "conname") {
            let table = try row.text("table_name"), definition = try row.text("definition")
            if let list = definition.firstMatch(of: /^CHECK \(\((\w+) = ANY \(ARRAY\[(.*)\]\)\)\)$/) {
                let values = String(list.2).matches(of: /'([^']*)'::text/).map { String($0.1) }
                allowed["\(table).\(list.1)"] = Set(values)
            } else if let range = definition.firstMatch(of: /^CHECK \(\(\((\w+) >= (\d+)\) AND \((\w+) <= (\d+)\)\)\)$/),
                      range.1 == range.3, let low = Int(range.2), let high = Int(range.4) {
                allowed["\(table).\(range.1)"] = Set((low...high).map(String.init))
            }
        }
        XCTAssertGreaterThan(allowed.count, 15, "the constraints were found and parsed")
        var tied: Set<String> = []
        for column in SchemaStates.columns {
            let key = "\(column.table).\(column.column)"
            tied.insert(key)
            guard let values = allowed[key] else {
                XCTFail("\(key) (\(column.type)) has no CHECK constraint listing its values")
                continue
            }
            XCTAssertEqual(Set(column.values), values, "\(key): \(column.type) and the CHECK constraint differ")
            XCTAssertEqual(column.values.count, Set(column.values).count, "\(key): \(column.type) names a value twice")
        }
        XCTAssertEqual(Set(allowed.keys).subtracting(tied), [], "a CHECK constraint lists values no enum in SchemaStates decodes")
    }

    func testRowsWithValuesNoEnumKnowsAreFoundAndNamed() throws {
        XCTAssertEqual(try SchemaStates.unknownValues(db: db), [])
        try db.execute("ALTER TABLE nightshift.runners DROP CONSTRAINT runners_state_check")
        try db.execute("""
            INSERT INTO nightshift.runners (id, host, pid, clock_start, clock_speed, clock_now, state, workers, mode)
            VALUES ('h:1:x', 'h', 1, now(), 1, now(), 'hibernating', 1, 'service')
            """)
        let found = try SchemaStates.unknownValues(db: db)
        XCTAssertEqual(found.map(\.description), [
            "nightshift.runners row h:1:x: state holds 'hibernating', which this NightShift cannot read (expected a RunnerState: one of running, stopping, stopped); correct the row, or run the NightShift version that wrote it",
        ])
    }
}
