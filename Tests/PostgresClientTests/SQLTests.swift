import Foundation
import PostgresClient
import TestSupport
import XCTest

/// The query type: interpolated values become bind parameters, fragments renumber, identifiers
/// are validated and quoted — checked on the text and against a real server.
final class SQLTests: XCTestCase {
    func testValuesBecomeNumberedParametersAndFragmentsRenumber() {
        let owner = "vm:1"
        let fence: SQL = "id = \(42) AND lease_owner = \(owner)"
        let note: String? = nil
        let query: SQL = "UPDATE t SET note = \(note), done = \(true) WHERE \(fence) AND state = ANY(\(["a", "b\"c"]))"
        let (text, values) = query.rendered
        XCTAssertEqual(text, "UPDATE t SET note = $1, done = $2 WHERE id = $3 AND lease_owner = $4 AND state = ANY($5)")
        XCTAssertEqual(values, [nil, "true", "42", "vm:1", "{\"a\",\"b\\\"c\"}"])
        let joined = SQL.joined([fence, "x = \(7)"], separator: " OR ")
        XCTAssertEqual(joined.rendered.text, "id = $1 AND lease_owner = $2 OR x = $3")
        XCTAssertEqual((fence + " LIMIT \(1)").rendered.values, ["42", "vm:1", "1"])
    }

    func testIdentifiersAreValidatedAndQuoted() {
        XCTAssertEqual(SQLIdentifier("erp.deliveries")?.quoted, "\"erp\".\"deliveries\"")
        XCTAssertEqual(SQLIdentifier("delivery_id")?.quoted, "\"delivery_id\"")
        for bad in ["", "a.b.c", "Deliveries", "x; DROP TABLE t", "a\"b", "1abc", ".a", String(repeating: "a", count: 64)] {
            XCTAssertNil(SQLIdentifier(bad), bad)
        }
        let table = SQLIdentifier("erp.deliveries")!
        XCTAssertEqual(SQL("SELECT count(*) FROM \(table) WHERE id > \(5)").rendered.text,
                       "SELECT count(*) FROM \"erp\".\"deliveries\" WHERE id > $1")
        XCTAssertEqual(table.inSchema(SQLIdentifier("restored")!).quoted, "\"restored\".\"deliveries\"")
    }

    func testACatalogsColumnNameIsQuotedAsItIsAndAListIsCommaSeparated() {
        // What pg_attribute may hold: capitals, spaces, quotes. Never NUL, never over 63 bytes.
        let columns = ["Amount", "a \"quoted\" name", "id"].compactMap(SQLIdentifier.init(catalogName:))
        XCTAssertEqual(columns.count, 3)
        XCTAssertEqual(SQL("SELECT \(columns) FROM t WHERE id = \(1)").rendered.text,
                       "SELECT \"Amount\", \"a \"\"quoted\"\" name\", \"id\" FROM t WHERE id = $1")
        XCTAssertNil(SQLIdentifier(catalogName: ""))
        XCTAssertNil(SQLIdentifier(catalogName: "a\u{0}b"))
        XCTAssertNil(SQLIdentifier(catalogName: String(repeating: "列", count: 22)), "66 bytes")
    }

    func testAHostileValueIsStoredAsItIsOnARealServer() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let db = try database.connect()
        defer { db.close() }
        try db.query("CREATE TABLE t (id int, name text, tags text[], at timestamptz)")
        let hostile = "x'); DROP TABLE t; --"
        let at = Date(timeIntervalSince1970: 1_795_000_000.25)
        try db.query("INSERT INTO t VALUES (\(1), \(hostile), \([hostile, "{,}"]), \(at))")
        let names: [String?] = [nil]
        try db.query("INSERT INTO t (id, name) SELECT \(2), n FROM unnest(\(names)::text[]) n")
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM t WHERE id = \(2) AND name IS NULL").int(0, "n"), 1)
        let row = try db.query("SELECT name, tags[2] AS second, extract(epoch FROM at)::float8 AS at FROM t WHERE id = \(1) AND \(hostile) = ANY(tags)")
        XCTAssertEqual(row.rowCount, 1)
        XCTAssertEqual(row.string(0, "name"), hostile)
        XCTAssertEqual(row.string(0, "second"), "{,}")
        XCTAssertEqual(row.double(0, "at"), 1_795_000_000.25)
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM t").int(0, "n"), 2)
    }
}
