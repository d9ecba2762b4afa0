import Foundation
import NightShiftMail
@testable import NightShiftEngine
import PostgresClient
import TestSupport
import XCTest

/// The mail sender's single pass, called directly against a real database and a real SMTP server
/// on loopback (aiosmtpd with STARTTLS and AUTH): what is due is sent and recorded; a permanent
/// refusal is a dead letter at once; a server that is down ends the pass and keeps the message.
final class MailSenderTests: XCTestCase {
    var night: NightFixture!
    var server: LoopbackSMTPServer!
    var credentials: TemporaryDirectory!
    let now = NightFixture.twoAM

    override func setUpWithError() throws {
        night = try NightFixture(customers: 200, days: 1)
        server = try LoopbackSMTPServer(refuse: ["nobody@luckygas.test"])
        credentials = try TemporaryDirectory("nightshift-credentials")
        try server.writeCredentials(to: credentials.file("smtp.yaml"))
        let settings = try night.project.read("etc/nightshift.yaml")
        let start = try XCTUnwrap(settings.range(of: "mail:\n"))
        let end = try XCTUnwrap(settings.range(of: "limits:\n"))
        try night.project.write("etc/nightshift.yaml", settings.replacingCharacters(in: start.lowerBound..<end.lowerBound, with: """
            mail:
              from: "NightShift <nightshift@luckygas.test>"
              to: [ops@luckygas.test]
              smtp:
                url: \(server.url)
                ca_file: \(server.certificate)
                credentials: \(credentials.file("smtp.yaml"))
                timeout_seconds: 5
              max_attempts: 3

            """))
    }

    override func tearDown() {
        night?.tearDown()
        server?.stop()
        credentials?.remove()
    }

    func queue(_ subject: String, to: String) throws -> Int {
        let message = MailMessage(from: "NightShift <nightshift@luckygas.test>", to: [to], subject: subject, date: now,
                                  text: "text of \(subject)", html: "<p>\(subject)</p>")
        return try XCTUnwrap(try OutboxStore(db: night.db).enqueue(kind: "test", dedupeKey: subject, batchRunID: nil, message: message,
                                                                   now: now, by: "test"))
    }

    func state(_ id: Int) throws -> (state: String, attempts: Int) {
        let row = try night.db.query("SELECT state, attempts FROM nightshift.mail_outbox WHERE id = \(id)")
        return (row.string(0, "state") ?? "?", row.int(0, "attempts") ?? -1)
    }

    func testDueMailIsSentARefusalIsADeadLetterAtOnceAndAServerThatIsDownKeepsTheMessage() throws {
        let sender = MailSender(context: try night.runnerContext("mail", at: now))
        defer { sender.close() }
        sender.jitter = { 0 }
        let first = try queue("first", to: "ops@luckygas.test")
        let second = try queue("second", to: "cfo@luckygas.test")
        XCTAssertEqual(try sender.runOnce(), 2)
        XCTAssertEqual(Set(server.waitForMessages(2).flatMap(\.to)), ["ops@luckygas.test", "cfo@luckygas.test"])
        XCTAssertEqual(try state(first).state, "sent")
        XCTAssertEqual(try state(second).state, "sent")
        XCTAssertEqual(try sender.runOnce(), 0, "nothing is sent twice")

        // A recipient the server refuses for good (5xx): a dead letter at the first attempt.
        let refused = try queue("refused", to: "nobody@luckygas.test")
        XCTAssertEqual(try sender.runOnce(), 0)
        XCTAssertEqual(try state(refused).state, "dead")
        XCTAssertEqual(try state(refused).attempts, 1)

        // The server is down: the pass ends with that error and the message waits for its retry.
        server.stop()
        let waiting = try queue("waiting", to: "ops@luckygas.test")
        XCTAssertThrowsError(try sender.runOnce()) { error in
            XCTAssertTrue("\(error)".contains("the mail server is not taking mail"), "\(error)")
        }
        XCTAssertEqual(try state(waiting).state, "queued")
        XCTAssertEqual(try state(waiting).attempts, 1)
        XCTAssertEqual(try night.db.query("SELECT count(*) FROM nightshift.mail_outbox WHERE id = \(waiting) AND next_attempt_at > \(now)")
                        .int(0, 0), 1, "retried after a back-off")
    }
}
