import PostgresClient
import TestSupport
import XCTest

final class PostgresConnectionTests: XCTestCase {
    var database: TestDatabase!
    var db: PostgresConnection!

    override func setUpWithError() throws {
        database = try TestDatabase()
        db = try database.connect()
    }

    override func tearDown() {
        db?.close()
        database?.drop()
    }

    func testBoundParametersAreNeverSplicedIntoSQL() throws {
        try db.execute("CREATE TABLE t (id int, name text)")
        let hostile = "x'); DROP TABLE t; --"
        try db.execute("INSERT INTO t VALUES ($1, $2)", ["1", hostile])
        try db.execute("INSERT INTO t VALUES ($1, $2)", ["2", nil])
        let result = try db.execute("SELECT id, name FROM t ORDER BY id")
        XCTAssertEqual(result.rowCount, 2)
        XCTAssertEqual(result.string(0, "name"), hostile)
        XCTAssertNil(result.string(1, "name"))
        XCTAssertEqual(result.int(1, "id"), 2)
    }

    func testErrorsCarrySQLStateMessageAndTheSQL() throws {
        XCTAssertThrowsError(try db.execute("SELECT no_such_column FROM pg_class")) { error in
            let pg = error as! PostgresError
            XCTAssertEqual(pg.sqlState, "42703")
            XCTAssertTrue(pg.message.contains("no_such_column"), pg.message)
            XCTAssertEqual(pg.context, "SELECT no_such_column FROM pg_class")
            XCTAssertTrue(pg.description.contains("SQLSTATE 42703"))
        }
        // The connection is still usable afterwards.
        XCTAssertEqual(try db.execute("SELECT 1 AS one").int(0, "one"), 1)
    }

    /// The native code comes through; what it means for a retry is Core's FailureClass.of (tested there).
    func testErrorsCarryTheServersSQLState() throws {
        XCTAssertThrowsError(try db.executeScript("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '40001'; END $$")) { error in
            XCTAssertEqual((error as! PostgresError).sqlState, "40001")
        }
        XCTAssertThrowsError(try db.execute("SELECT 1/0")) { error in
            XCTAssertEqual((error as! PostgresError).sqlState, "22012")
        }
        // A client's mistake: $1 with no parameter bound is a protocol violation, and the
        // connection stays usable.
        XCTAssertThrowsError(try db.execute("SELECT $1::int AS n", [])) { error in
            let pg = error as! PostgresError
            XCTAssertEqual(pg.sqlState, "08P01", pg.description)
            XCTAssertTrue(pg.message.contains("parameter"), pg.message)
        }
        XCTAssertEqual(try db.execute("SELECT 3 AS three").int(0, "three"), 3)
    }

    func testRowsDecodeOrSayWhichRowColumnAndValue() throws {
        let result = try db.execute("SELECT * FROM (VALUES (7, 'ok', NULL::text, 't'), (8, 'weird', 'x', 'maybe')) AS v(id, state, note, flag)")
        let rows = result.rows(of: "nightshift.things")
        XCTAssertEqual(try rows[0].int("id"), 7)
        XCTAssertEqual(try rows[0].text("state"), "ok")
        XCTAssertNil(try rows[0].optionalText("note"))
        XCTAssertEqual(try rows[0].bool("flag"), true)
        XCTAssertThrowsError(try rows[0].text("note")) { error in
            XCTAssertEqual((error as? RowDecodingError)?.description.hasPrefix("nightshift.things row 7: note holds NULL"), true, "\(error)")
        }
        XCTAssertThrowsError(try rows[1].bool("flag")) { error in
            let decoding = error as? RowDecodingError
            XCTAssertEqual(decoding?.rowID, "8")
            XCTAssertEqual(decoding?.column, "flag")
            XCTAssertEqual(decoding?.value, "maybe")
        }
        XCTAssertThrowsError(try rows[1].int("state"))
        XCTAssertThrowsError(try rows[1].text("no_such_column"))
        XCTAssertThrowsError(try result.row(5, of: "nightshift.things").int("id"))
    }

    func testScriptRunsEveryStatementAndReportsTheFirstFailure() throws {
        let last = try db.executeScript("CREATE TABLE s (n int); INSERT INTO s SELECT generate_series(1, 5); UPDATE s SET n = n + 1 WHERE n > 2")
        XCTAssertEqual(last.affectedRows, 3)
        XCTAssertThrowsError(try db.executeScript("INSERT INTO s VALUES (100); SELECT missing FROM s; INSERT INTO s VALUES (200)")) { error in
            XCTAssertEqual((error as! PostgresError).sqlState, "42703")
        }
        // A failing simple-query script is one implicit transaction: nothing of it stays.
        XCTAssertEqual(try db.execute("SELECT count(*) AS n FROM s").int(0, "n"), 5)
    }

    func testTransactionRollsBackWhenTheBodyThrows() throws {
        try db.execute("CREATE TABLE r (n int)")
        struct Boom: Error {}
        XCTAssertThrowsError(try db.transaction {
            try db.execute("INSERT INTO r VALUES (1)")
            throw Boom()
        })
        XCTAssertEqual(try db.execute("SELECT count(*) AS n FROM r").int(0, "n"), 0)
        try db.transaction { try db.execute("INSERT INTO r VALUES (2)") }
        XCTAssertEqual(try db.execute("SELECT count(*) AS n FROM r").int(0, "n"), 1)
    }

    func testParametersReachScriptsThroughSetConfig() throws {
        let value = try db.transaction { () -> String? in
            try db.setParameters([("business_date", "2026-11-22")])
            return try db.executeScript("SELECT current_setting('nightshift.business_date') AS d").string(0, "d")
        }
        XCTAssertEqual(value, "2026-11-22")
    }

    func testCopyOutStreamsEveryRowAndReportsFailures() throws {
        var rows = 0
        var bytes = 0
        let count = try db.copyOut("COPY (SELECT n, 'row ' || n FROM generate_series(1, 100000) n) TO STDOUT WITH (FORMAT csv)") { row in
            rows += 1
            bytes += row.count
            XCTAssertEqual(row.last, UInt8(ascii: "\n"))
        }
        XCTAssertEqual(count, 100_000)
        XCTAssertEqual(rows, 100_000)
        XCTAssertGreaterThan(bytes, 1_000_000)
        XCTAssertThrowsError(try db.copyOut("COPY (SELECT 1/(n - 500) FROM generate_series(1, 1000) n) TO STDOUT") { _ in }) { error in
            XCTAssertEqual((error as! PostgresError).sqlState, "22012")
        }
        // An abandoned stream leaves the connection usable.
        let stream = try db.copyOutStream("COPY (SELECT generate_series(1, 100000)) TO STDOUT")
        _ = try stream.next()
        stream.close()
        stream.close()
        XCTAssertEqual(try db.execute("SELECT 2 AS two").int(0, "two"), 2)
    }

    /// Every form libpq accepts: URI, key=value, spaces around `=`, quoted values.
    func testTheTargetNeverShowsAPassword() {
        for conninfo in ["postgresql://someone:s3cret-pw@127.0.0.1:1/db", "host=127.0.0.1 port=1 password=s3cret-pw user=someone",
                         "host=127.0.0.1 port=1 password = s3cret-pw", "host=127.0.0.1 password='s3cret pw' port=1",
                         "postgresql://127.0.0.1:1/db?password=s3cret-pw", "postgresql://someone:s3cret%2Dpw@127.0.0.1:1/db"] {
            let shown = PostgresConnection.redacted(conninfo)
            XCTAssertFalse(shown.contains("s3cret"), "\(conninfo) → \(shown)")
            XCTAssertTrue(shown.contains("host=127.0.0.1"), "\(conninfo) → \(shown)")
            XCTAssertThrowsError(try PostgresConnection(conninfo: conninfo + (conninfo.contains("://") ? "" : " connect_timeout=2"))) { error in
                XCTAssertFalse("\(error)".contains("s3cret"), "\(error)")
            }
        }
        XCTAssertEqual(PostgresConnection.redacted("host='unterminated"), "(a connection string libpq cannot parse)")
    }

    func testConnectFailureSaysWhatToCheckAndHidesThePassword() {
        XCTAssertThrowsError(try PostgresConnection(conninfo: "postgresql://someone:secret@127.0.0.1:1/nothing?connect_timeout=2")) { error in
            let pg = error as! PostgresError
            XCTAssertEqual(pg.operation, .connect)
            XCTAssertEqual(pg.sqlState, "08001")
            XCTAssertFalse(pg.description.contains("secret"), pg.description)
            XCTAssertTrue(pg.hint?.contains("DATABASE_URL") ?? false)
        }
    }

    func testCloseIsIdempotentAndLaterUseIsAnError() throws {
        db.close()
        db.close()
        XCTAssertFalse(db.isOpen)
        XCTAssertThrowsError(try db.execute("SELECT 1")) { error in
            XCTAssertEqual((error as! PostgresError).sqlState, "08003")
        }
    }

    func testNotificationsArriveWhileWaitingAndALostConnectionThrows() throws {
        try db.execute("LISTEN nightshift_test")
        let other = try database.connect()
        defer { other.close() }
        // Nothing sent: the wait times out empty, after about the timeout.
        let t0 = Date()
        XCTAssertEqual(try db.notifications(waitingUpTo: 0.3), [])
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(t0), 0.25)
        // Sent from another session while this one waits: it wakes at once, with the payload.
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { _ = try? other.execute("SELECT pg_notify('nightshift_test', '42')") }
        let t1 = Date()
        let received = try db.notifications(waitingUpTo: 5)
        XCTAssertEqual(received.map(\.payload), ["42"])
        XCTAssertEqual(received.first?.channel, "nightshift_test")
        XCTAssertEqual(received.first?.senderPID, other.backendPID)
        XCTAssertLessThan(Date().timeIntervalSince(t1), 4)
        // Two sent before the wait: both returned by it.
        try other.execute("NOTIFY nightshift_test, 'a'")
        try other.execute("NOTIFY nightshift_test, 'b'")
        Thread.sleep(forTimeInterval: 0.1)
        var both: [String] = []
        while both.count < 2, case let next = try db.notifications(waitingUpTo: 2), !next.isEmpty { both += next.map(\.payload) }
        XCTAssertEqual(both, ["a", "b"])
        // The session killed: the wait throws a connection failure.
        try other.execute("SELECT pg_terminate_backend($1::int)", [String(db.backendPID)])
        XCTAssertThrowsError(try db.notifications(waitingUpTo: 5)) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "08006", "\(error)")
        }
    }
}
