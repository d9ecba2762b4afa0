import Foundation
import NightShiftCore
import NightShiftEngine
import PostgresClient
import TestSupport
import XCTest

final class MigratorTests: XCTestCase {
    var database: TestDatabase!
    var db: PostgresConnection!
    var dir: TemporaryDirectory!

    override func setUpWithError() throws {
        database = try TestDatabase()
        db = try database.connect()
        dir = try TemporaryDirectory()
    }

    override func tearDown() {
        db?.close()
        database?.drop()
        dir?.remove()
    }

    func testRunnerMigrationsApplyOnceAndAgainIsANoOp() throws {
        let migrator = Migrator(set: "runner", directory: "\(repositoryRoot())/sql/runner")
        // Every file of sql/runner, in order, once.
        let files = try FileManager.default.contentsOfDirectory(atPath: "\(repositoryRoot())/sql/runner").filter { $0.hasSuffix(".sql") }
        let versions = files.compactMap { Int($0.prefix(4)) }.sorted()
        XCTAssertGreaterThanOrEqual(versions.count, 6)
        XCTAssertEqual(try migrator.apply(on: db).map(\.version), versions)
        XCTAssertEqual(try migrator.apply(on: db), [])
        XCTAssertEqual(try db.execute("SELECT count(*) AS n FROM nightshift.schema_migrations").int(0, "n"), versions.count)
        XCTAssertEqual(try db.execute("SELECT count(*) AS n FROM nightshift.batch_runs").int(0, "n"), 0)
    }

    func testRunsOfTheSameInstantFromEarlierVersionsAreNumberedNotLost() throws {
        // Earlier versions could run one instant twice; migration 0003 numbers those runs.
        let old = try TemporaryDirectory("old-migrations")
        defer { old.remove() }
        for file in ["0001_runner_schema.sql", "0002_manual_overrides.sql"] {
            try FileManager.default.copyItem(atPath: "\(repositoryRoot())/sql/runner/\(file)", toPath: old.file(file))
        }
        try Migrator(set: "runner", directory: old.path).apply(on: db)
        for _ in 0..<2 {
            try db.execute("""
                INSERT INTO nightshift.batch_runs (batch, business_date, scheduled_for, trigger, state, finished_at)
                VALUES ('daily', '2026-11-22', '2026-11-23T02:00:00+08:00', 'cli', 'succeeded', now())
                """)
        }
        XCTAssertEqual(try Migrator(set: "runner", directory: "\(repositoryRoot())/sql/runner").apply(on: db).map(\.version).prefix(2), [3, 4])
        let runs = try db.execute("SELECT run_number, summary_at IS NOT NULL AS summarised FROM nightshift.batch_runs ORDER BY id")
        XCTAssertEqual((0..<runs.rowCount).map { runs.int($0, "run_number")! }, [1, 2])
        XCTAssertEqual((0..<runs.rowCount).map { runs.bool($0, "summarised")! }, [true, true], "old batches get no new summary")
        // From now on the occurrence key holds.
        XCTAssertThrowsError(try db.execute("""
            INSERT INTO nightshift.batch_runs (batch, business_date, scheduled_for, trigger, state, run_number)
            VALUES ('daily', '2026-11-22', '2026-11-23T02:00:00+08:00', 'cli', 'running', 2)
            """)) { XCTAssertEqual(($0 as? PostgresError)?.sqlState, "23505") }
    }

    func testAFailingMigrationLeavesTheDatabaseAsItWas() throws {
        try "CREATE TABLE good (n int);".write(toFile: dir.file("0001_good.sql"), atomically: true, encoding: .utf8)
        try "CREATE TABLE half (n int);\nINSERT INTO half VALUES (1);\nALTER TABLE nowhere ADD COLUMN x int;"
            .write(toFile: dir.file("0002_broken.sql"), atomically: true, encoding: .utf8)
        let migrator = Migrator(set: "t", directory: dir.path)
        XCTAssertThrowsError(try migrator.apply(on: db)) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "42P01")
        }
        XCTAssertEqual(try db.execute("SELECT count(*) AS n FROM pg_tables WHERE tablename = 'half'").int(0, "n"), 0)
        XCTAssertEqual(try db.execute("SELECT count(*) AS n FROM pg_tables WHERE tablename = 'good'").int(0, "n"), 1)
        XCTAssertEqual(try db.execute("SELECT string_agg(version::text, ',') AS v FROM nightshift.schema_migrations WHERE set_name = 't'").string(0, "v"), "1")

        // Fixed, it applies; a migration edited after it was applied is refused.
        try "CREATE TABLE half (n int);".write(toFile: dir.file("0002_broken.sql"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try migrator.apply(on: db).map(\.version), [2])
        try "CREATE TABLE good (n bigint);".write(toFile: dir.file("0001_good.sql"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try migrator.apply(on: db)) { error in
            XCTAssertTrue("\(error)".contains("0001_good.sql: was changed after it was applied"), "\(error)")
        }
    }

    func testBadMigrationFileNameIsRefused() throws {
        try "SELECT 1;".write(toFile: dir.file("12_oops.sql"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Migrator(set: "t", directory: dir.path).migrations()) { error in
            XCTAssertTrue("\(error)".contains("12_oops.sql: not a migration file name"), "\(error)")
        }
    }

    func testSeedIsDeterministic() throws {
        let seeder = Seeder(sqlDirectory: "\(repositoryRoot())/sql")
        let until = LocalDate(iso: "2026-11-22")!
        let fingerprint = """
            SELECT md5(string_agg(d::text, '|' ORDER BY id)) || md5((SELECT string_agg(c::text, '|' ORDER BY id) FROM erp.customers c))
                || md5((SELECT string_agg(m::text, '|' ORDER BY id) FROM erp.cylinder_movements m)) AS f
            FROM erp.deliveries d
            """
        let first = try seeder.seed(on: db, customers: 800, days: 5, seed: 11, until: until)
        let a = try db.execute(fingerprint).string(0, "f")
        XCTAssertGreaterThan(first.deliveries, 900)
        XCTAssertEqual(first.orders, first.deliveries)
        XCTAssertEqual(first.cylinderMovements, 2 * first.invoices)
        let again = try seeder.seed(on: db, customers: 800, days: 5, seed: 11, until: until)
        XCTAssertEqual(again.deliveries, first.deliveries)
        XCTAssertEqual(try db.execute(fingerprint).string(0, "f"), a)
        _ = try seeder.seed(on: db, customers: 800, days: 5, seed: 12, until: until)
        XCTAssertNotEqual(try db.execute(fingerprint).string(0, "f"), a)
        // Foreign keys and indexes are all back after the bulk load.
        XCTAssertEqual(try db.execute("SELECT count(*) AS n FROM pg_constraint WHERE contype = 'f' AND connamespace = 'erp'::regnamespace").int(0, "n"), 30)
        XCTAssertEqual(try db.execute("SELECT count(*) AS n FROM pg_indexes WHERE schemaname = 'erp' AND indexname LIKE '%_by_%'").int(0, "n"), 7)
    }
}
