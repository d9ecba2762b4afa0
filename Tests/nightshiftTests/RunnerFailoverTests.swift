import Foundation
import TestSupport
import XCTest

/// A primary failover in the middle of the night's calculation, with two runners on a libpq
/// multi-host URL (`target_session_attrs=read-write`): the primary is stopped at once
/// (`scripts/pg crash`, an immediate shutdown) and its streaming replica promoted (`scripts/pg
/// promote`). Both runners reconnect to the new primary by themselves; leases and fences hold across
/// the switch; the job in flight is retried from its checkpoint; the night completes with each job
/// succeeded exactly once, each record applied once, and results and decrypted export equal to an
/// undisturbed run.
final class RunnerFailoverTests: XCTestCase {
    var folder: TemporaryDirectory!
    var night: RunnerNight?
    var clusters: [String] = []

    override func tearDown() {
        night?.tearDown()
        for cluster in clusters.reversed() { _ = try? runProcess(["\(repositoryRoot())/scripts/pg", "remove", cluster]) }
        folder?.remove()
    }

    func pg(_ arguments: [String]) throws -> String {
        let output = try runProcess(["\(repositoryRoot())/scripts/pg"] + arguments)
        XCTAssertEqual(output.status, 0, output.stderr)
        return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testAFailoverMidCalculationWithTwoRunnersCompletesTheNightExactlyOnce() throws {
        folder = try TemporaryDirectory("nightshift-failover-night")
        let primaryDir = folder.file("primary"), replicaDir = folder.file("replica")
        clusters = [primaryDir, replicaDir]
        let primary = try pg(["start", primaryDir])
        let replica = try pg(["replica", replicaDir, primaryDir])
        func part(_ url: String, _ key: String) throws -> String { try XCTUnwrap(url.firstMatch(of: try Regex("\(key)=([^&]+)"))?[1].substring).description }
        let url = "postgresql://postgres@/nightshift?host=\(try part(primary, "host")),\(try part(replica, "host"))"
            + "&port=\(try part(primary, "port")),\(try part(replica, "port"))&target_session_attrs=read-write"
        let night = try RunnerNight(database: TestDatabase(existing: url))
        self.night = night

        let first = try night.startService(name: "first", speed: 300)
        let second = try night.startService(name: "second", speed: 300)
        try night.waitUntil("the calculation has committed chunks", timeout: 60) {
            (Int(try night.scalar("SELECT rows_done FROM nightshift.checkpoints WHERE job = 'delivery_charges' AND NOT completed") ?? "0") ?? 0) >= 200
        }
        _ = try pg(["crash", primaryDir])
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(try pg(["promote", replicaDir]), replica)
        try night.waitUntil("the night has completed on the new primary", timeout: 150) {
            try night.scalar("SELECT state || (summary_at IS NOT NULL) FROM nightshift.batch_runs") == "succeededtrue"
        }
        XCTAssertEqual(try night.scalar("SELECT pg_is_in_recovery()::text"), "false")
        XCTAssertEqual(try night.scalar("SELECT current_setting('port')"), try part(replica, "port"), "the runners work on the promoted replica")
        // The calculation was in flight: it was tried again, from its checkpoint.
        let attempts = try XCTUnwrap(night.scalar("SELECT attempts FROM nightshift.job_runs WHERE job = 'delivery_charges'"))
        XCTAssertGreaterThanOrEqual(Int(attempts) ?? 0, 2, "\(first.logText)\n---\n\(second.logText)")
        try assertCleanNight(night)
        for runner in [first, second] {
            runner.kill(SIGTERM)
            XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
        }
    }
}
