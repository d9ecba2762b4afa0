import Foundation
import NightShiftConfig
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `mail.smtp`: TLS unless a loopback server, no password in the YAML or the project, and every
/// mistake named with its line and fix.
final class MailSettingsTests: XCTestCase {
    var project: ProjectCopy!
    var outside: TemporaryDirectory!

    override func setUpWithError() throws {
        project = try ProjectCopy()
        outside = try TemporaryDirectory("nightshift-credentials")
    }

    override func tearDown() {
        project?.cleanup()
        outside?.remove()
    }

    private func withSMTP(_ smtp: String) throws -> [String] {
        let settings = try project.read("etc/nightshift.yaml")
        let anchor = "    - \"營運主管 <ops-managers@luckygas.example>\"\n"
        XCTAssertTrue(settings.contains(anchor))
        try project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: anchor, with: anchor + smtp))
        return Configuration.check(root: project.root).errors.map(\.description)
    }

    func testAValidServerIsReadWithItsDefaults() throws {
        XCTAssertEqual(try withSMTP("  smtp:\n    url: smtp://mail.luckygas.example:587\n    credentials: \(outside.file("smtp.yaml"))\n"), [])
        let mail = try Configuration.load(root: project.root).settings.mail
        XCTAssertEqual(mail.smtp, SMTPSettings(url: "smtp://mail.luckygas.example:587", host: "mail.luckygas.example", requireTLS: true,
                                               caFile: nil, credentialsFile: outside.file("smtp.yaml"), timeoutSeconds: 30))
        XCTAssertEqual(mail.maxAttempts, 8)
        XCTAssertEqual(mail.retrySeconds, 30)
        XCTAssertEqual(mail.maxRetrySeconds, 3600)
    }

    func testTLSMayBeOffOnlyForALoopbackServer() throws {
        var found = try withSMTP("  smtp:\n    url: smtp://mail.luckygas.example:25\n    tls: off\n")
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found[0].hasPrefix("etc/nightshift.yaml:") && found[0].contains("mail.smtp.tls: tls: off sends mail and the password in the clear to mail.luckygas.example")
                      && found[0].contains("only for a loopback server"), found[0])
        project.cleanup()
        project = try ProjectCopy()
        XCTAssertEqual(try withSMTP("  smtp:\n    url: smtp://127.0.0.1:2525\n    tls: off\n"), [])
        XCTAssertEqual(try Configuration.load(root: project.root).settings.mail.smtp?.requireTLS, false)
        project.cleanup()
        project = try ProjectCopy()
        found = try withSMTP("  smtp:\n    url: smtps://localhost:465\n    tls: off\n")
        XCTAssertTrue(found.first?.contains("tls: off contradicts the smtps:// URL") == true, "\(found)")
    }

    func testNoPasswordInTheURLAndNoCredentialsInsideTheProject() throws {
        var found = try withSMTP("  smtp:\n    url: smtp://nightshift:hunter2@mail.luckygas.example:587\n")
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found[0].contains("mail.smtp.url: the URL carries a user or password") && !found[0].contains("hunter2"), found[0])
        project.cleanup()
        project = try ProjectCopy()
        found = try withSMTP("  smtp:\n    url: smtp://mail.luckygas.example:587\n    credentials: etc/smtp.yaml\n")
        XCTAssertTrue(found.first?.contains("mail.smtp.credentials: `etc/smtp.yaml` is a relative path, inside the project") == true, "\(found)")
        project.cleanup()
        project = try ProjectCopy()
        found = try withSMTP("  smtp:\n    url: smtp://mail.luckygas.example:587\n    credentials: \(project.root)/var/smtp.yaml\n")
        XCTAssertTrue(found.first?.contains("is inside the project directory") == true && found.first?.contains("so it is never committed") == true, "\(found)")
        project.cleanup()
        project = try ProjectCopy()
        found = try withSMTP("  smtp:\n    url: http://mail.luckygas.example\n    password: x\n")
        XCTAssertEqual(found.count, 2, "\(found)")
        XCTAssertTrue(found[0].contains("is not smtp://HOST:PORT"), found[0])
        XCTAssertTrue(found[1].contains("mail.smtp.password") && found[1].contains("unknown"), found[1])
    }

    func testTheCredentialsFileMustBeTheOwnersAlone() throws {
        let path = outside.file("smtp.yaml")
        try "username: nightshift\npassword: \"p@ss: word\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o644)
        guard case let .failure(error) = SMTPCredentials.read(path: path) else { return XCTFail("a world-readable file was accepted") }
        XCTAssertTrue(error.description.contains("may be read by others (mode 644)") && error.description.contains("chmod 600 \(path)"), error.description)
        chmod(path, 0o600)
        XCTAssertEqual(try SMTPCredentials.read(path: path).get(), SMTPCredentials(username: "nightshift", password: "p@ss: word"))
        try "username: nightshift\npasword: x\n".write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        guard case let .failure(missing) = SMTPCredentials.read(path: path) else { return XCTFail("a misspelt key was accepted") }
        XCTAssertTrue(missing.description.contains("password: missing required key"), missing.description)
        guard case let .failure(absent) = SMTPCredentials.read(path: outside.file("nothing.yaml")) else { return XCTFail() }
        XCTAssertTrue(absent.description.contains("cannot read the SMTP credentials file"), absent.description)
    }

    /// A CR or LF in an address would forge a header (a Bcc) in every mail: refused, with the line.
    func testAnAddressWithALineBreakIsRefused() throws {
        let settings = try project.read("etc/nightshift.yaml")
        let anchor = "    - \"營運主管 <ops-managers@luckygas.example>\"\n"
        try project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: anchor,
            with: anchor + "    - \"ops@luckygas.example\\r\\nBcc: evil@y.example\"\n    - \"not an address\"\n"))
        let errors = Configuration.check(root: project.root).errors.map(\.description)
        XCTAssertEqual(errors.count, 2, "\(errors)")
        XCTAssertTrue(errors[0].contains("is not a mail address: it holds the control character U+000D"), errors[0])
        XCTAssertTrue(errors[0].contains("mail.to"), errors[0])
        XCTAssertTrue(errors[1].contains("\"not an address\" is not user@host"), errors[1])
        XCTAssertEqual(MailAddress.problem("營運主管 <ops@luckygas.example>"), nil)
        XCTAssertEqual(MailAddress.problem("ops@luckygas.example"), nil)
        XCTAssertNotNil(MailAddress.problem("a@b, c@d"))
        XCTAssertNotNil(MailAddress.problem("Name <a@b>\nBcc: c@d"))
    }
}
