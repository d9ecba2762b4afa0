import Foundation
import CurlClients
import TestSupport
import XCTest

/// libcurl against a real SMTP server on loopback (aiosmtpd) with STARTTLS and AUTH.
final class SMTPClientTests: XCTestCase {
    private func message(_ subject: String, body: String = "Hello.\r\n.a line starting with a dot\r\n") -> Data {
        Data("From: nightshift@luckygas.test\r\nTo: ops@luckygas.test\r\nSubject: \(subject)\r\nMessage-ID: <\(UUID())@luckygas.test>\r\n\r\n\(body)".utf8)
    }

    private func settings(_ server: LoopbackSMTPServer, password: String? = nil, timeout: Double = 20) -> SMTPServer {
        SMTPServer(url: server.url, requireTLS: server.tls, caFile: server.tls ? server.certificate : nil,
                   username: server.user, password: password ?? server.password, connectTimeout: 5, timeout: timeout)
    }

    func testSendsOverSTARTTLSWithAuthAndReportsTheServersReply() throws {
        let server = try LoopbackSMTPServer()
        let client = try SMTPClient(server: settings(server))
        defer { client.close() }
        let first = message("first")
        let receipt = try client.send(from: "nightshift@luckygas.test", to: ["ops@luckygas.test", "cfo@luckygas.test"], message: first)
        XCTAssertEqual(receipt.replyCode, 250)
        XCTAssertTrue(receipt.reply.hasPrefix("250 2.0.0 Ok: queued as 1"), receipt.reply)
        // The same handle sends a second message (over the kept connection).
        _ = try client.send(from: "nightshift@luckygas.test", to: ["ops@luckygas.test"], message: message("second"))
        let received = server.waitForMessages(2)
        XCTAssertEqual(received.count, 2)
        XCTAssertEqual(received[0].from, "nightshift@luckygas.test")
        XCTAssertEqual(received[0].to, ["ops@luckygas.test", "cfo@luckygas.test"])
        XCTAssertEqual(received[0].user, server.user)
        XCTAssertTrue(received[0].tls)
        // Dot-stuffing is undone by the server: the bytes arrive as sent.
        XCTAssertEqual(received[0].data, first)
    }

    func testAWrongPasswordIsAnAuthenticationErrorThatIsNotPermanent() throws {
        let server = try LoopbackSMTPServer()
        let client = try SMTPClient(server: settings(server, password: "wrong"))
        XCTAssertThrowsError(try client.send(from: "nightshift@luckygas.test", to: ["ops@luckygas.test"], message: message("x"))) { error in
            guard let error = error as? SMTPError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.replyCode, 535, error.description)
            XCTAssertFalse(error.isPermanent)
            XCTAssertTrue(error.description.contains("credentials file"), error.description)
        }
        XCTAssertTrue(server.received().isEmpty)
    }

    func testARefusedRecipientIsPermanentAndCarriesTheReply() throws {
        let server = try LoopbackSMTPServer(refuse: ["nobody@luckygas.test"])
        let client = try SMTPClient(server: settings(server))
        // Some refused: the others get it, and the receipt names the refused one with the reply.
        let receipt = try client.send(from: "nightshift@luckygas.test", to: ["nobody@luckygas.test", "ops@luckygas.test"], message: message("partly"))
        XCTAssertEqual(receipt.replyCode, 250)
        XCTAssertEqual(receipt.refused.map(\.recipient), ["nobody@luckygas.test"])
        XCTAssertEqual(receipt.refused.first?.replyCode, 550)
        XCTAssertEqual(server.waitForMessages(1).first?.to, ["ops@luckygas.test"])
        // All refused: an error.
        XCTAssertThrowsError(try client.send(from: "nightshift@luckygas.test", to: ["nobody@luckygas.test"], message: message("x"))) { error in
            guard let error = error as? SMTPError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.replyCode, 550)
            XCTAssertTrue(error.isPermanent)
            XCTAssertTrue(error.reply.contains("User unknown"), error.reply)
        }
    }

    func testTLSIsRequiredAndTheCertificateIsVerified() throws {
        // A server without STARTTLS: refused before anything is sent, when TLS is required.
        let plain = try LoopbackSMTPServer(tls: false, user: nil, password: nil)
        var required = settings(plain)
        required.requireTLS = true
        XCTAssertThrowsError(try SMTPClient(server: required).send(from: "a@luckygas.test", to: ["b@luckygas.test"], message: message("x"))) { error in
            guard let error = error as? SMTPError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.curlCode, 64, error.description) // CURLE_USE_SSL_FAILED
            XCTAssertTrue(error.description.contains("STARTTLS"), error.description)
        }
        XCTAssertTrue(plain.received().isEmpty)
        // Configured off (loopback): it sends in the clear.
        _ = try SMTPClient(server: settings(plain)).send(from: "a@luckygas.test", to: ["b@luckygas.test"], message: message("clear"))
        XCTAssertEqual(plain.waitForMessages(1).first?.tls, false)

        // A TLS server whose certificate is not trusted: refused.
        let server = try LoopbackSMTPServer()
        var untrusted = settings(server)
        untrusted.caFile = nil
        XCTAssertThrowsError(try SMTPClient(server: untrusted).send(from: "a@luckygas.test", to: ["b@luckygas.test"], message: message("x"))) { error in
            guard let error = error as? SMTPError else { return XCTFail("\(error)") }
            XCTAssertTrue(error.description.contains("certificate"), error.description)
        }
        XCTAssertTrue(server.received().isEmpty)
    }

    func testADownOrSlowServerFailsWithinTheTimeout() throws {
        let server = try LoopbackSMTPServer(start: false)
        let client = try SMTPClient(server: settings(server))
        XCTAssertThrowsError(try client.send(from: "a@luckygas.test", to: ["b@luckygas.test"], message: message("x"))) { error in
            XCTAssertEqual((error as? SMTPError)?.curlCode, 7, "\(error)") // CURLE_COULDNT_CONNECT
            XCTAssertFalse((error as? SMTPError)?.isPermanent ?? true)
        }
        // A server that takes 8 s to accept the data: given up on after the 1.5 s timeout, and
        // closing the connection (QUIT, whose reply never comes in time) takes at most as long again.
        let slow = try LoopbackSMTPServer(dataDelay: 8)
        let slowClient = try SMTPClient(server: settings(slow, timeout: 1.5))
        let started = Date()
        XCTAssertThrowsError(try slowClient.send(from: "a@luckygas.test", to: ["b@luckygas.test"], message: message("x"))) { error in
            XCTAssertEqual((error as? SMTPError)?.curlCode, 28, "\(error)") // CURLE_OPERATION_TIMEDOUT
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        slowClient.close()
        XCTAssertLessThan(Date().timeIntervalSince(started), 6)
    }
}
