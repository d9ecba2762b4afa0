import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The summary mail through the outbox to a real SMTP server on loopback (aiosmtpd with STARTTLS
/// and AUTH), read back with Python's standard MIME parser: delivered once, whatever the server
/// does, and never at the batch's expense.
final class RunnerMailTests: XCTestCase {
    var night: RunnerNight!
    var server: LoopbackSMTPServer!
    var credentials: TemporaryDirectory!

    override func setUpWithError() throws {
        night = try RunnerNight(slow: false)
        server = try LoopbackSMTPServer()
        credentials = try TemporaryDirectory("nightshift-credentials")
        try server.writeCredentials(to: credentials.file("smtp.yaml"))
        try useSMTP(extra: "")
    }

    override func tearDown() {
        night?.tearDown()
        server?.stop()
        credentials?.remove()
    }

    private func useSMTP(extra: String, ownMail: Bool = true, batchTo: String = "[]") throws {
        let settings = try night.project.read("etc/nightshift.yaml")
        let mail = """
            mail:
              from: "NightShift 夜班 <nightshift@luckygas.test>"
              to:
                - "營運主管 <ops@luckygas.test>"
                - cfo@luckygas.test
              smtp:
                url: \(server.url)
                ca_file: \(server.certificate)
                credentials: \(credentials.file("smtp.yaml"))
                timeout_seconds: 5
              batches:
                daily:
                  own_mail: \(ownMail)
                  to: \(batchTo)
            \(extra)
            """
        let start = try XCTUnwrap(settings.range(of: "mail:\n"))
        let end = try XCTUnwrap(settings.range(of: "limits:\n"))
        try night.project.write("etc/nightshift.yaml", settings.replacingCharacters(in: start.lowerBound..<end.lowerBound, with: mail + "\n"))
    }

    /// The message parsed by Python's `email` package (policy.default decodes RFC 2047 headers).
    private func parse(_ data: Data) throws -> [String: Any] {
        let file = credentials.file("received-\(UUID().uuidString.prefix(6)).eml")
        try data.write(to: URL(fileURLWithPath: file))
        let script = """
            import email, email.policy, json, sys
            m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)
            parts = {p.get_content_type(): p.get_content() for p in m.walk() if not p.is_multipart()}
            print(json.dumps({'subject': str(m['subject']), 'from': str(m['from']), 'to': str(m['to']), 'message_id': str(m['message-id']),
                              'date': str(m['date']), 'type': m.get_content_type(), 'defects': [str(d) for d in m.defects],
                              'text': parts.get('text/plain', ''), 'html': parts.get('text/html', '')}))
            """
        let result = try runProcess(["/usr/bin/python3", "-c", script, file])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    func testRunOnceDeliversTheSummaryOverSTARTTLSWithAuthAndAStandardParserReadsIt() throws {
        let result = try night.cli(["run", "--once", "--at", RunnerNight.occurrence])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("summary mail #1: sent to ops@luckygas.test, cfo@luckygas.test (the server: 250 2.0.0 Ok: queued as 1)"),
                      result.stdout)
        let received = server.waitForMessages(1)
        XCTAssertEqual(received.count, 1)
        let message = try XCTUnwrap(received.first)
        XCTAssertTrue(message.tls, "sent after STARTTLS")
        XCTAssertEqual(message.user, server.user, "authenticated")
        XCTAssertEqual(message.from, "nightshift@luckygas.test")
        XCTAssertEqual(message.to, ["ops@luckygas.test", "cfo@luckygas.test"])
        let parsed = try parse(message.data)
        XCTAssertEqual(parsed["defects"] as? [String], [])
        XCTAssertEqual(parsed["type"] as? String, "multipart/alternative")
        XCTAssertEqual(parsed["from"] as? String, "NightShift 夜班 <nightshift@luckygas.test>")
        XCTAssertEqual(parsed["to"] as? String, "營運主管 <ops@luckygas.test>, cfo@luckygas.test")
        XCTAssertTrue((parsed["subject"] as? String ?? "").contains("daily batch 2026-11-22"), "\(parsed)")
        XCTAssertTrue((parsed["text"] as? String ?? "").contains("delivery_charges"), "\(parsed)")
        XCTAssertTrue((parsed["html"] as? String ?? "").contains("<html"), "\(parsed)")
        // What the server got is byte for byte what the outbox holds (and its copy in var/outbox).
        XCTAssertEqual(try night.scalar("SELECT message_id FROM nightshift.mail_outbox"), parsed["message_id"] as? String)
        XCTAssertEqual(try night.scalar("SELECT message FROM nightshift.mail_outbox").map { Data($0.utf8) }, message.data)
        XCTAssertEqual(try night.scalar("SELECT string_agg(coalesce(from_state, '-') || '>' || to_state, ' ' ORDER BY id) FROM nightshift.mail_transitions"),
                       "->queued queued>sending sending>sent")
        let status = try night.cli(["status"])
        XCTAssertTrue(status.stdout.contains("mail: 0 queued, 0 sending, 1 sent, 0 dead (through \(server.url))"), status.stdout)
    }

    func testTheServerStoppedDuringTheBatchGetsTheMailOnceAfterItComesBackAndARestart() throws {
        try useSMTP(extra: "  max_attempts: 50\n  retry_seconds: 60\n  max_retry_seconds: 120")
        let slow = try night.project.read("sql/jobs/customer_consumption.sql")
        try night.project.write("sql/jobs/customer_consumption.sql", "SELECT pg_sleep(3);\n" + slow)
        // 60x: 01:59:50 to 02:30 is 30 s of real time, the batch takes a few.
        let first = try night.start(["run", "--at", RunnerNight.at, "--speed", "60", "--until", "2026-11-23T02:30:00+08:00"], name: "first")
        try night.waitUntil("customer_consumption runs") { try night.jobState("customer_consumption") == "running" }
        server.stop()
        try night.waitUntil("the batch ends and its summary's first delivery fails", timeout: 60) {
            try night.scalar("SELECT state FROM nightshift.batch_runs") == "succeeded"
                && (try night.scalar("SELECT attempts FROM nightshift.mail_outbox WHERE state = 'queued'")).flatMap(Int.init) ?? 0 >= 1
        }
        XCTAssertEqual(try night.scalar("SELECT string_agg(state, ',') FROM nightshift.job_runs"), "succeeded,succeeded,succeeded,succeeded",
                       "the mail server's absence changed nothing of the batch")
        let error = try XCTUnwrap(night.scalar("SELECT last_error FROM nightshift.mail_outbox"))
        XCTAssertTrue(error.contains("curl error 7") && error.contains("the mail server runs"), error)
        let status = try night.cli(["status"])
        XCTAssertTrue(status.stdout.contains("mail: 1 queued") && status.stdout.contains("curl error 7"), status.stdout)
        // The runner stops with the mail still queued; the server comes back; another runner sends it.
        first.kill(SIGTERM)
        XCTAssertEqual(first.wait(timeout: 60), 0, first.logText)
        XCTAssertTrue(server.received().isEmpty)
        try server.start()
        let second = try night.start(["run", "--at", "2026-11-23T02:40:00+08:00", "--speed", "60", "--until", "2026-11-23T03:30:00+08:00"],
                                     name: "second")
        try night.waitUntil("the mail is sent", timeout: 60) { try night.scalar("SELECT state FROM nightshift.mail_outbox") == "sent" }
        Thread.sleep(forTimeInterval: 2)
        second.kill(SIGTERM)
        XCTAssertEqual(second.wait(timeout: 60), 0, second.logText)
        let received = server.received()
        XCTAssertEqual(received.count, 1, "delivered once")
        XCTAssertTrue(try XCTUnwrap(parse(received[0].data)["subject"] as? String).contains("daily batch 2026-11-22"))
        let attempts = try XCTUnwrap(Int(night.scalar("SELECT attempts FROM nightshift.mail_outbox") ?? ""))
        XCTAssertGreaterThanOrEqual(attempts, 2)
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.mail_transitions WHERE to_state = 'sent'"), "1")
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.mail_transitions WHERE to_state = 'sending'"), String(attempts),
                       "every attempt is recorded")
    }

    func testARefusedRecipientIsSaidTheOthersGetItAndAllRefusedIsADeadLetterThatCanBeSentAgain() throws {
        server.stop()
        server = try LoopbackSMTPServer(user: server.user, password: server.password, refuse: ["cfo@luckygas.test"], start: false)
        try server.writeCredentials(to: credentials.file("smtp.yaml"))
        try useSMTP(extra: "")
        try server.start()
        // One recipient refused: the other gets the mail, and the refusal is said.
        let partly = try night.cli(["run", "--once", "--at", RunnerNight.occurrence])
        XCTAssertEqual(partly.status, 0, partly.stdout + partly.stderr)
        XCTAssertTrue(partly.stdout.contains("summary mail #1: sent to ops@luckygas.test, cfo@luckygas.test")
                      && partly.stdout.contains("but not accepted for cfo@luckygas.test (550 5.1.1 <cfo@luckygas.test>: Recipient address rejected: User unknown)"),
                      partly.stdout)
        XCTAssertEqual(server.waitForMessages(1).map(\.to), [["ops@luckygas.test"]])
        XCTAssertEqual(try night.scalar("SELECT state FROM nightshift.mail_outbox WHERE id = 1"), "sent")

        // Every recipient refused: a dead letter at once (a 5xx is not retried), with the reply.
        server.stop()
        server.refuse = ["cfo@luckygas.test", "ops@luckygas.test"]
        try server.start()
        let result = try night.cli(["run", "--once", "--rerun", "--at", RunnerNight.occurrence])
        XCTAssertEqual(result.status, 0, "the batch itself succeeded: \(result.stdout)\(result.stderr)")
        XCTAssertTrue(result.stdout.contains("summary mail #2: NOT delivered, a dead letter") && result.stdout.contains("User unknown")
                      && result.stdout.contains("nightshift mail retry 2"), result.stdout)
        XCTAssertEqual(try night.scalar("SELECT state || ' ' || attempts FROM nightshift.mail_outbox WHERE id = 2"), "dead 1")
        XCTAssertTrue(try night.scalar("SELECT last_reply FROM nightshift.mail_outbox WHERE id = 2")!.hasPrefix("550 5.1.1 <"))
        let status = try night.cli(["status"])
        XCTAssertTrue(status.stdout.contains("mail #2 \"[NightShift] daily batch 2026-11-22") && status.stdout.contains("is a dead letter after 1 attempt")
                      && status.stdout.contains("nightshift mail retry 2"), status.stdout)
        let listed = try night.cli(["mail", "list", "--state", "dead"])
        XCTAssertTrue(listed.stdout.contains("#2 dead summary") && listed.stdout.contains("User unknown"), listed.stdout + listed.stderr)

        // The addresses are fixed at the server; the operator sends the dead letter again.
        server.stop()
        server.refuse = []
        try server.start()
        XCTAssertEqual(try night.cli(["mail", "retry", "1"]).status, 1, "a sent message is not a dead letter")
        let retried = try night.cli(["mail", "retry", "2"])
        XCTAssertEqual(retried.status, 0, retried.stderr)
        XCTAssertTrue(retried.stdout.contains("mail #2 queued again"), retried.stdout)
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.audit WHERE detail = 'mail #2 queued again'"), "1", "audited")
        let runner = try night.start(["run", "--at", "2026-11-23T03:00:00+08:00", "--speed", "60", "--until", "2026-11-23T03:20:00+08:00"],
                                     name: "sender")
        try night.waitUntil("the mail is sent") { try night.scalar("SELECT state FROM nightshift.mail_outbox WHERE id = 2") == "sent" }
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
        XCTAssertEqual(server.received().count, 2)
        XCTAssertEqual(server.received().last?.to, ["ops@luckygas.test", "cfo@luckygas.test"])
        XCTAssertEqual(try night.scalar("SELECT string_agg(coalesce(from_state, '-') || '>' || to_state, ' ' ORDER BY id) FROM nightshift.mail_transitions WHERE mail_id = 2"),
                       "->queued queued>sending sending>dead dead>queued queued>sending sending>sent")
    }

    func testTheNightsMailArrivesAfterSevenWithTheTimelineAndTheRecipientsOfItsBatchesAndJobs() throws {
        try useSMTP(extra: """
              jobs:
                delivery_charges: [billing@luckygas.test]
            """, ownMail: false, batchTo: "[\"倉儲 <warehouse@luckygas.test>\"]")
        try night.project.write("sql/jobs/customer_consumption.sql", "SELECT no_such_column FROM erp.deliveries;\n")
        // 01:59:50 to 07:05 at 600x: about 30 s; the daily batch runs at 02:00, the night's mail is due at 07:00.
        let runner = try night.start(["run", "--at", RunnerNight.at, "--speed", "600", "--until", "2026-11-23T07:05:00+08:00"], name: "night")
        XCTAssertEqual(runner.wait(timeout: 120), 0, runner.logText)
        try night.waitUntil("the night's mail is sent") { try night.scalar("SELECT state FROM nightshift.mail_outbox WHERE kind = 'night'") == "sent" }
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.mail_outbox"), "1", "no mail of the batch's own")
        XCTAssertEqual(try night.scalar("SELECT dedupe_key FROM nightshift.mail_outbox"), "night:2026-11-23")
        let received = server.received()
        XCTAssertEqual(received.count, 1)
        let message = try XCTUnwrap(received.first)
        XCTAssertEqual(Set(message.to), ["ops@luckygas.test", "cfo@luckygas.test", "warehouse@luckygas.test", "billing@luckygas.test"])
        let parsed = try parse(message.data)
        XCTAssertEqual(parsed["defects"] as? [String], [])
        XCTAssertEqual(parsed["subject"] as? String, "[NightShift] night of 2026-11-23: ACTION NEEDED — 1 failed of 4 jobs")
        XCTAssertTrue((parsed["to"] as? String ?? "").contains("倉儲 <warehouse@luckygas.test>"), "\(parsed)")
        // The Date header is the runner's clock in Asia/Taipei: 07:00 of the simulated morning.
        XCTAssertTrue((parsed["date"] as? String ?? "").contains("23 Nov 2026 07:0") && (parsed["date"] as? String ?? "").hasSuffix("+0800"), "\(parsed)")
        let text = try XCTUnwrap(parsed["text"] as? String)
        // The result first, then the failure; the timeline; the batch's jobs.
        let result = try XCTUnwrap(text.range(of: "Result:      FAILED — action needed: 1 failed of 4 jobs"))
        let failure = try XCTUnwrap(text.range(of: "  failed: customer_consumption: "))
        let timeline = try XCTUnwrap(text.range(of: "Timeline ("))
        let batch = try XCTUnwrap(text.range(of: "== daily batch for business date 2026-11-22: FAILED"))
        XCTAssertTrue(result.lowerBound < failure.lowerBound && failure.lowerBound < timeline.lowerBound && timeline.lowerBound < batch.lowerBound, text)
        XCTAssertTrue(text.contains("Night:       2026-11-22 07:00 → 2026-11-23 07:00"), text)
        let lines = text.components(separatedBy: "\n")
        // From the batch's start to its window's end (06:00), all of it optimal on a weekday night.
        let band = try XCTUnwrap(lines.first { $0.hasPrefix("window ") })
        XCTAssertTrue(band.hasSuffix(" " + String(repeating: "=", count: 48)), band)
        let failedRow = try XCTUnwrap(lines.first { $0.hasPrefix("customer_consumption P4") })
        XCTAssertTrue(failedRow.contains("x") && !failedRow.contains("#"), failedRow)
        let chargesRow = try XCTUnwrap(lines.first { $0.hasPrefix("delivery_charges P3") })
        XCTAssertTrue(chargesRow.contains("#"), chargesRow)
        XCTAssertTrue(text.contains("    error: PostgreSQL execute failed [SQLSTATE 42703]: column \"no_such_column\" does not exist"), text)
        // Mail-safe HTML: the chart is a table, nothing is fetched, nothing runs.
        let html = try XCTUnwrap(parsed["html"] as? String)
        XCTAssertTrue(html.contains("Timeline of the night") && html.contains("colspan="), html)
        for forbidden in ["<script", "src=", "http://", "https://", "url(", "position:", "display:flex"] {
            XCTAssertFalse(html.lowercased().contains(forbidden), forbidden)
        }
        // A person can look at it: headless Chromium renders the kept copy to a PNG.
        let copy = "\(night.project.root)/var/outbox/night-2026-11-23.eml"
        XCTAssertEqual(FileManager.default.contents(atPath: copy), message.data)
        let png = credentials.file("night.png")
        let rendered = try runProcess(["\(repositoryRoot())/scripts/render-mail", copy, png, "1100x1600"])
        XCTAssertEqual(rendered.status, 0, rendered.stdout + rendered.stderr)
        let image = try XCTUnwrap(FileManager.default.contents(atPath: png))
        XCTAssertEqual(Array(image.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG")
        let width = image[16..<20].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(width, 1100)
        XCTAssertGreaterThan(image.count, 20_000, "not a blank page")
    }
}
