import Foundation
import PostgresClient
import TestSupport
import XCTest

/// A private primary and its streaming replica (`scripts/pg start`, `scripts/pg replica`): a NightShift
/// connection to a libpq multi-host URL with `target_session_attrs=read-write` writes on the primary;
/// the replica serves reads once it has replayed past the primary's WAL position after the commit;
/// after the primary crashes (`scripts/pg crash`) and the replica is promoted (`scripts/pg promote`),
/// the old connection fails as a transient error and a new one on the same URL writes on the new primary.
final class FailoverTests: XCTestCase {
    var folder: TemporaryDirectory!
    var clusters: [String] = []

    override func setUpWithError() throws { folder = try TemporaryDirectory("nightshift-failover") }

    override func tearDown() {
        for cluster in clusters.reversed() { _ = try? runProcess(["\(repositoryRoot())/scripts/pg", "remove", cluster]) }
        folder?.remove()
    }

    func pg(_ arguments: [String]) throws -> String {
        let output = try runProcess(["\(repositoryRoot())/scripts/pg"] + arguments)
        XCTAssertEqual(output.status, 0, output.stderr)
        return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// (socket folder, port) of a cluster's URL.
    func place(_ url: String) throws -> (String, String) {
        let host = try XCTUnwrap(url.firstMatch(of: /host=([^&]+)/)?.1)
        let port = try XCTUnwrap(url.firstMatch(of: /port=(\d+)/)?.1)
        return (String(host), String(port))
    }

    func testWritesFollowThePrimaryThroughAFailoverAndTheReplicaReadsWhatWasCommitted() throws {
        let primaryDir = folder.file("primary"), replicaDir = folder.file("replica")
        clusters = [primaryDir]
        let primaryURL = try pg(["start", primaryDir])
        clusters.append(replicaDir)
        let replicaURL = try pg(["replica", replicaDir, primaryDir])
        let (primaryHost, primaryPort) = try place(primaryURL), (replicaHost, replicaPort) = try place(replicaURL)
        let both = "postgresql://postgres@/nightshift?host=\(primaryHost),\(replicaHost)&port=\(primaryPort),\(replicaPort)"
        let writer = both + "&target_session_attrs=read-write"
        XCTAssertEqual(try PostgresConnection(conninfo: replicaURL).query("SELECT pg_is_in_recovery()").string(0, 0), "t")

        let db = try PostgresConnection(conninfo: writer)
        XCTAssertTrue(PostgresConnection.redacted(writer).contains("host=\(primaryHost),\(replicaHost)"), PostgresConnection.redacted(writer))
        try db.query("CREATE TABLE applied (id int PRIMARY KEY)")
        try db.query("INSERT INTO applied SELECT generate_series(1, 1000)")
        // The WAL position after the commit, read as a statement of its own (PLATFORM-NOTES-2 §2).
        let lsn = try XCTUnwrap(db.query("SELECT pg_current_wal_lsn()::text").string(0, 0))
        let reader = try PostgresConnection(conninfo: both + "&target_session_attrs=standby")
        XCTAssertEqual(try reader.query("SELECT pg_is_in_recovery()").string(0, 0), "t", "standby: the replica")
        let deadline = Date().addingTimeInterval(10)
        while try reader.query("SELECT pg_last_wal_replay_lsn() >= \(lsn)::pg_lsn").string(0, 0) != "t", Date() < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        XCTAssertEqual(try reader.query("SELECT count(*) FROM applied").string(0, 0), "1000", "read in a statement after the wait")
        XCTAssertThrowsError(try reader.query("INSERT INTO applied VALUES (0)")) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "25006", "a standby is read-only")
        }
        reader.close()

        _ = try pg(["crash", primaryDir])
        XCTAssertThrowsError(try db.query("INSERT INTO applied VALUES (1001)")) { error in
            let state = (error as? PostgresError)?.sqlState ?? ""
            XCTAssertTrue(state.hasPrefix("08") || state.hasPrefix("57P"), "a lost primary is a connection failure (transient): \(error)")
        }
        // Until the replica is promoted no server takes writes.
        XCTAssertThrowsError(try PostgresConnection(conninfo: writer))
        XCTAssertEqual(try pg(["promote", replicaDir]), replicaURL)
        let again = try PostgresConnection(conninfo: writer)
        defer { again.close() }
        XCTAssertEqual(try again.query("SELECT pg_is_in_recovery()").string(0, 0), "f")
        try again.query("INSERT INTO applied VALUES (1001)")
        XCTAssertEqual(try again.query("SELECT count(*) FROM applied").string(0, 0), "1001", "nothing committed was lost")
        db.close()
    }
}
