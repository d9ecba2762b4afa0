import Foundation
import NightShiftCore
@testable import NightShiftEngine
import PostgresClient
import TestSupport
import XCTest

/// Outputs delivered to a real OpenSSH sftp server on loopback (scripts/sftp-server): queued in
/// the transaction that publishes them, uploaded by the runner's delivery sender, compared byte for
/// byte on the server's disk, with a receipt per file.
final class DeliverySenderTests: XCTestCase {
    var night: NightFixture!
    var server: LoopbackSFTPServer!
    var received: String { "\(server.uploads)/bank" }

    override func setUpWithError() throws {
        night = try NightFixture(customers: 1500, days: 1)
        server = try LoopbackSFTPServer()
    }

    override func tearDown() {
        night?.tearDown()
        server = nil
    }

    func deliverExportsTo(hostKey: String? = nil) throws {
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings + """

            deliveries:
              bank:
                url: \(server.url)/bank
                host_key_sha256: "\(hostKey ?? server.hostKeySHA256)"
                private_key: \(server.privateKey)
                timeout_seconds: 20
                max_attempts: 3
                retry_seconds: 60

            """)
        let job = try night.project.read("jobs/daily_delivery_export.yaml")
        try night.project.write("jobs/daily_delivery_export.yaml", job + "\ndeliver_to: [bank]\n")
    }

    func deliveries() throws -> [(name: String, state: String, attempts: Int, seq: Int)] {
        let rows = try night.db.query("SELECT remote_name, state, attempts, seq FROM nightshift.deliveries ORDER BY seq")
        return (0..<rows.rowCount).map { (rows.string($0, "remote_name")!, rows.string($0, "state")!, rows.int($0, "attempts")!, rows.int($0, "seq")!) }
    }

    func testANightsExportArrivesByteForByteArchivesFirstManifestLastWithAReceiptEach() throws {
        try deliverExportsTo()
        let report = try night.run()
        XCTAssertEqual(report.jobs.first { $0.job.name == "daily_delivery_export" }?.state, .succeeded)
        let outputs = try night.db.query("""
            SELECT o.path, o.bytes, d.remote_path, d.remote_bytes, d.state FROM nightshift.outputs o
            JOIN nightshift.deliveries d ON d.output_id = o.id ORDER BY d.seq
            """)
        XCTAssertGreaterThanOrEqual(outputs.rowCount, 2, "the archives and the manifest")
        for row in 0..<outputs.rowCount {
            let path = outputs.string(row, "path")!
            let name = (path as NSString).lastPathComponent
            XCTAssertEqual(outputs.string(row, "state"), "delivered", name)
            XCTAssertEqual(outputs.string(row, "remote_path"), "/upload/bank/\(name)")
            XCTAssertEqual(outputs.int(row, "remote_bytes"), outputs.int(row, "bytes"))
            XCTAssertEqual(FileManager.default.contents(atPath: "\(received)/\(name)"), FileManager.default.contents(atPath: path),
                           "\(name) arrived byte for byte")
        }
        XCTAssertEqual(try deliveries().last?.name.hasSuffix(".manifest.json"), true, "the manifest goes last")
        XCTAssertEqual(try night.count("""
            SELECT count(*) FROM nightshift.deliveries m JOIN nightshift.deliveries a ON a.job_run_id = m.job_run_id AND a.seq < m.seq
            WHERE m.remote_name LIKE '%.manifest.json' AND a.delivered_at > m.delivered_at
            """), 0, "no archive was delivered after the manifest")
        XCTAssertTrue(server.files().allSatisfy { !$0.hasPrefix(".") }, "no temporary file is left: \(server.files())")
        XCTAssertEqual(try night.count("SELECT count(*) FROM nightshift.delivery_transitions WHERE to_state = 'delivered'"), outputs.rowCount)

        // The mail says where each file went.
        let text = try mailText(report.batchRunID)
        XCTAssertTrue(text.contains("delivered to bank at 02:") && text.contains("(/upload/bank/deliveries-2026-11-22"), text)
        XCTAssertFalse(text.contains("Not delivered by"), text)
    }

    /// The batch's mail as it would be written now (its text part).
    func mailText(_ batchRunID: Int) throws -> String {
        let report = try BatchReport.load(batchRunID, db: night.db)
        let message = try NightMail(configuration: try night.configuration()).message([report], night: nil, now: NightFixture.twoAM.addingTimeInterval(5 * 3600))
        return message.text
    }

    func testAServerThatIsDownHoldsUpNoBatchAndGetsTheFilesWhenItIsBack() throws {
        try deliverExportsTo()
        server.stop()
        let report = try night.run()
        XCTAssertEqual(report.jobs.first { $0.job.name == "daily_delivery_export" }?.state, .succeeded, "the batch does not wait for the server")
        let waiting = try deliveries()
        XCTAssertTrue(waiting.allSatisfy { $0.state == "queued" }, "\(waiting)")
        XCTAssertEqual(waiting.first?.attempts, 1, "the first file was tried")
        XCTAssertTrue(waiting.dropFirst().allSatisfy { $0.attempts == 0 }, "the rest wait their turn: \(waiting)")

        // Back, and an hour later on the runner's clock (past the back-off): everything is delivered in order.
        try server.start()
        let sender = DeliverySender(context: try night.runnerContext("later", at: NightFixture.twoAM.addingTimeInterval(3 * 3600)))
        defer { sender.close() }
        sender.jitter = { 0 }
        XCTAssertEqual(try sender.runOnce(), waiting.count)
        XCTAssertTrue(try deliveries().allSatisfy { $0.state == "delivered" })
        XCTAssertEqual(try sender.runOnce(), 0, "nothing is delivered twice")
    }

    func testAHostKeyThatDoesNotMatchIsADeadLetterAtOnceAndNothingIsSent() throws {
        let other = Data(repeating: 9, count: 32).base64EncodedString().replacingOccurrences(of: "=", with: "")
        try deliverExportsTo(hostKey: other)
        _ = try night.run()
        let rows = try deliveries()
        XCTAssertEqual(rows.first?.state, "dead")
        XCTAssertEqual(rows.first?.attempts, 1, "refused for good at the first attempt")
        let error = try night.scalar("SELECT last_error FROM nightshift.deliveries WHERE seq = 0") ?? ""
        XCTAssertTrue(error.contains("host key mismatch: expected SHA256:\(other) got SHA256:"), error)
        XCTAssertTrue(rows.dropFirst().allSatisfy { $0.state == "queued" && $0.attempts == 0 }, "the manifest waits behind it: \(rows)")
        XCTAssertEqual(server.files(), [], "nothing reached the server")
        let text = try mailText(try XCTUnwrap(night.count("SELECT max(id) FROM nightshift.batch_runs")))
        XCTAssertTrue(text.contains("Not delivered by 07:00: deliveries-2026-11-22") && text.contains("NOT delivered to bank (dead letter after 1 attempt: ")
                      && text.contains("host key mismatch") && text.contains("not yet delivered to bank (waiting its turn)"), text)

        // An alert, once (the runner's own final pass may already have raised it).
        let alerter = Alerter(context: try night.runnerContext("alerts"))
        try alerter.runOnce(db: night.db, now: NightFixture.twoAM.addingTimeInterval(3600))
        try alerter.runOnce(db: night.db, now: NightFixture.twoAM.addingTimeInterval(3700))
        let alert = try night.db.query("SELECT subject, detail FROM nightshift.alerts WHERE kind = 'delivery_dead'")
        XCTAssertEqual(alert.rowCount, 1)
        XCTAssertTrue(alert.string(0, "subject")?.hasSuffix("was not delivered to bank (dead letter)") == true, alert.string(0, "subject") ?? "")
        XCTAssertTrue(alert.string(0, "detail")?.contains("host key mismatch") == true, alert.string(0, "detail") ?? "")
    }

    func testASenderThatDiedMidUploadLeavesItsLeaseToExpireAndTheNextSenderRedoesTheUpload() throws {
        try deliverExportsTo()
        server.stop()
        _ = try night.run()
        try server.start()
        // A sender claims the first file and dies (kill -9) before it records anything.
        let now = NightFixture.twoAM.addingTimeInterval(3 * 3600)
        let dead = try XCTUnwrap(try DeliveryStore(db: night.db).claimNext(now: now, runner: "killed-runner", leaseSeconds: 600))
        XCTAssertEqual(try night.scalar("SELECT state FROM nightshift.deliveries WHERE id = \(dead.id)"), "sending")
        let sender = DeliverySender(context: try night.runnerContext("rescuer", at: now))
        defer { sender.close() }
        XCTAssertEqual(try sender.runOnce(), 0, "the lease is held: nothing after it may go either (its manifest waits)")
        try night.db.query("UPDATE nightshift.deliveries SET lease_expires_at = clock_timestamp() - interval '1 second' WHERE id = \(dead.id)")
        let all = try deliveries().count
        XCTAssertEqual(try sender.runOnce(), all, "the expired lease is taken over and every file delivered")
        XCTAssertEqual(try night.scalar("""
            SELECT error FROM nightshift.delivery_transitions WHERE delivery_id = \(dead.id) AND from_state = 'sending' AND to_state = 'sending'
            """), "the lease of the previous sender expired during its upload")
        XCTAssertEqual(try night.scalar("SELECT attempts FROM nightshift.deliveries WHERE id = \(dead.id)"), "3",
                       "the failed try, the killed one, the one that delivered")
        XCTAssertTrue(server.files().allSatisfy { !$0.hasPrefix(".") })
    }
}
