import Foundation
import TestSupport
import XCTest

/// `nightshift deliveries` and `deliveries retry` with a real runner and a real OpenSSH sftp server:
/// a host key that does not match makes dead letters without failing the night; once the pin is
/// fixed, a manager sends them again (audited) and the service delivers them, with receipts.
final class DeliveriesCommandTests: XCTestCase {
    var night: RunnerNight!
    var server: LoopbackSFTPServer!

    override func setUpWithError() throws {
        night = try RunnerNight(slow: false)
        server = try LoopbackSFTPServer()
    }

    override func tearDown() {
        night?.tearDown()
        server = nil
    }

    func configure(hostKey: String, timeoutSeconds: Int = 20) throws {
        var settings = try night.project.read("etc/nightshift.yaml")
        if let start = settings.range(of: "\ndeliveries:\n") { settings = String(settings[..<start.lowerBound]) }
        try night.project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "max_connections: 12", with: "max_connections: 13") + """

            deliveries:
              bank:
                url: \(server.url)/bank
                host_key_sha256: "\(hostKey)"
                private_key: \(server.privateKey)
                timeout_seconds: \(timeoutSeconds)

            """)
    }

    func testADeadDeliveryIsListedSentAgainByAManagerAndDeliveredWithAReceipt() throws {
        let wrong = Data(repeating: 5, count: 32).base64EncodedString().replacingOccurrences(of: "=", with: "")
        try configure(hostKey: wrong)
        let job = try night.project.read("jobs/daily_delivery_export.yaml")
        try night.project.write("jobs/daily_delivery_export.yaml", job + "\ndeliver_to: [bank]\n")

        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings + "\nmetrics:\n  textfile: var/metrics/nightshift.prom\n")
        let run = try night.cli(["run", "--once", "--at", RunnerNight.occurrence])
        XCTAssertEqual(run.status, 0, "a delivery that fails does not fail the night: \(run.stdout)\(run.stderr)")
        let metrics = try night.project.read("var/metrics/nightshift.prom")
        XCTAssertTrue(metrics.contains("nightshift_deliveries{target=\"bank\",state=\"dead\"} 1")
                      && metrics.contains("nightshift_deliveries{target=\"bank\",state=\"queued\"} 1"), metrics)
        let dead = try night.cli(["deliveries", "--state", "dead"])
        XCTAssertEqual(dead.status, 0, dead.stderr)
        XCTAssertTrue(dead.stdout.contains("#1 dead deliveries-2026-11-22") && dead.stdout.contains("→ bank (daily_delivery_export, 2026-11-22)")
                      && dead.stdout.contains("host key mismatch: expected SHA256:\(wrong) got SHA256:"), dead.stdout)
        XCTAssertEqual(server.files(), [], "nothing was sent to a server whose key does not match")
        let status = try night.cli(["status"])
        XCTAssertTrue(status.stdout.contains("deliveries: 1 queued, 0 sending, 0 delivered, 1 dead")
                      && status.stdout.contains("delivery #1 of deliveries-2026-11-22") && status.stdout.contains("then `nightshift deliveries retry 1`"),
                      status.stdout)
        let waiting = try night.cli(["deliveries", "--state", "queued"])
        XCTAssertTrue(waiting.stdout.contains(".manifest.json") && waiting.stdout.contains("0 attempts"), "the manifest waits behind the archive: \(waiting.stdout)")

        // The pin is corrected; the dead file is sent again; the service delivers everything.
        try configure(hostKey: server.hostKeySHA256)
        XCTAssertEqual(try night.cli(["deliveries", "retry", "99"]).status, 1, "no such delivery")
        let retried = try night.cli(["deliveries", "retry", "1"])
        XCTAssertEqual(retried.status, 0, retried.stderr)
        XCTAssertTrue(retried.stdout.contains("delivery #1 queued again"), retried.stdout)
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.audit WHERE detail = 'delivery #1 (dead) queued again'"), "1", "audited")
        let runner = try night.start(["run", "--at", "2026-11-23T03:00:00+08:00", "--speed", "60", "--until", "2026-11-23T03:20:00+08:00"],
                                     name: "deliverer")
        try night.waitUntil("every file is delivered") {
            try night.scalar("SELECT count(*) FROM nightshift.deliveries WHERE state <> 'delivered'") == "0"
        }
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
        let delivered = try night.cli(["deliveries", "--state", "delivered"])
        XCTAssertTrue(delivered.stdout.contains("receipt: /upload/bank/deliveries-2026-11-22") && delivered.stdout.contains("sha256 "),
                      delivered.stdout)
        let outputs = try night.query("SELECT path FROM nightshift.outputs WHERE kind IN ('export', 'manifest')")
        for row in 0..<outputs.rowCount {
            let path = outputs.string(row, "path")!
            XCTAssertEqual(FileManager.default.contents(atPath: "\(server.uploads)/bank/\((path as NSString).lastPathComponent)"),
                           FileManager.default.contents(atPath: path), path)
        }
    }

    /// `kill -9` of the runner in the middle of an upload: the server holds a partial `.NAME.part`
    /// and nothing under the final name. Another runner takes the delivery over once its lease has
    /// expired, uploads the file again from its start and renames it: the receiver ends with exactly
    /// one complete copy, byte for byte, and no partial file.
    func testARunnerKilledMidUploadLeavesNoPartialFileAndTheNextOneDeliversItWhole() throws {
        // The sender's lease is real time: twice the timeout and 30 s, here 40 s.
        try configure(hostKey: server.hostKeySHA256, timeoutSeconds: 5)
        try night.project.write("sql/reports/big_file.sql", """
            SELECT i, repeat(md5(i::text), 8) AS filler FROM generate_series(1, 300000) AS i WHERE :business_date::date IS NOT NULL
            """)
        try night.project.write("jobs/big_file.yaml", """
            name: big_file
            kind: report
            batch: daily
            priority: P2
            estimate_minutes: 1
            deliver_to: [bank]
            report:
              query: reports/big_file.sql
              outputs:
                - format: csv
                  file: big-file-{date}

            """)
        let first = try night.start(["run", "--at", RunnerNight.occurrence, "--speed", "60", "--until", "2026-11-23T04:00:00+08:00"],
                                    name: "first")
        let part = "\(server.uploads)/bank/.big-file-2026-11-22.csv.part"
        try night.waitUntil("the upload is under way", timeout: 120, every: 0.001) {
            ((try? FileManager.default.attributesOfItem(atPath: part))?[.size] as? Int ?? 0) > 0
        }
        XCTAssertGreaterThan(server.signalSessions(SIGSTOP), 0, "the transfer is frozen")
        first.kill(SIGKILL)
        _ = first.wait(timeout: 30)
        let published = try XCTUnwrap(try night.scalar("SELECT path FROM nightshift.outputs WHERE path LIKE '%big-file-2026-11-22.csv'"))
        let size = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: published)[.size] as? Int)
        let partial = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: part)[.size] as? Int)
        XCTAssertLessThan(partial, size, "killed mid-upload")
        XCTAssertFalse(server.files().contains { $0.hasSuffix("big-file-2026-11-22.csv") })
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(server.uploads)/bank/big-file-2026-11-22.csv"), "never a partial file under the final name")
        XCTAssertEqual(try night.scalar("SELECT state FROM nightshift.deliveries d JOIN nightshift.outputs o ON o.id = d.output_id WHERE o.path = $1",
                                        [published]), "sending", "the dead runner's claim")
        server.signalSessions(SIGKILL)

        let second = try night.start(["run", "--at", "2026-11-23T03:00:00+08:00", "--speed", "60", "--until", "2026-11-23T05:00:00+08:00"],
                                     name: "second")
        try night.waitUntil("every file is delivered", timeout: 120) {
            try night.scalar("SELECT count(*) FROM nightshift.deliveries WHERE state <> 'delivered'") == "0"
        }
        second.kill(SIGTERM)
        XCTAssertEqual(second.wait(timeout: 60), 0, second.logText)
        XCTAssertEqual(FileManager.default.contents(atPath: "\(server.uploads)/bank/big-file-2026-11-22.csv"),
                       FileManager.default.contents(atPath: published), "one complete copy, byte for byte")
        let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: "\(server.uploads)/bank")) ?? []).filter { $0.hasSuffix(".part") }
        XCTAssertEqual(leftovers, [], "no partial file stays")
        let attempts = try night.query("""
            SELECT d.attempts, d.claimed_by IS NULL AS released FROM nightshift.deliveries d JOIN nightshift.outputs o ON o.id = d.output_id WHERE o.path = $1
            """, [published])
        XCTAssertEqual(attempts.string(0, "attempts"), "2", "taken over and redone")
    }
}
