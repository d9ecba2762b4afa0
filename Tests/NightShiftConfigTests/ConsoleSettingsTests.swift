import Foundation
import NightShiftConfig
import TestSupport
import XCTest

/// `console:`: shipped on loopback; off loopback only with TLS; its session length and the address
/// login links start with; its database connection counted.
final class ConsoleSettingsTests: XCTestCase {
    var project: ProjectCopy!

    override func setUpWithError() throws { project = try ProjectCopy() }
    override func tearDown() { project?.cleanup() }

    /// The shipped configuration with its `console:` block replaced.
    private func errors(_ console: String) throws -> [String] {
        let shipped = try project.read("etc/nightshift.yaml")
        let start = try XCTUnwrap(shipped.range(of: "\nconsole:\n"))
        let end = try XCTUnwrap(shipped.range(of: "\n\n", range: start.upperBound..<shipped.endIndex))
        try project.write("etc/nightshift.yaml", shipped.replacingCharacters(in: start.lowerBound..<end.lowerBound, with: "\nconsole:\n" + console))
        return Configuration.check(root: project.root).errors.map(\.description)
    }

    func testTheShippedConsoleIsOnLoopback() throws {
        let settings = try Configuration.load(root: project.root).settings
        XCTAssertEqual(settings.console, ConsoleSettings(host: "127.0.0.1", port: 8480))
        XCTAssertEqual(settings.console?.url, "http://127.0.0.1:8480")
        XCTAssertEqual(settings.console?.sessionMinutes, 120)
        XCTAssertEqual(settings.console?.isLoopback, true)
        XCTAssertEqual(settings.connectionsPerRunner, 13, "8 + 2 per slot + 1 for the console")
    }

    func testOffLoopbackNeedsTLSAndEveryMistakeIsNamed() throws {
        var found = try errors("  listen: \"0.0.0.0:8480\"\n")
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found[0].contains("console.listen: 0.0.0.0 is not a loopback address and console.tls is not set") && found[0].contains("listen on 127.0.0.1"), found[0])
        found = try errors("  listen: \"127.0.0.1:8480\"\n  session_minutes: 2\n  url: \"ftp://x\"\n  colour: blue\n")
        XCTAssertEqual(found.count, 3, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("console.session_minutes") && $0.contains("5") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("console.url") && $0.contains("http:// or https://") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("colour") }, "\(found)")
        found = try errors("  listen: \"127.0.0.1:8480\"\n  tls: {certificate: etc/tls/none.crt, key: etc/tls/none.key}\n")
        XCTAssertTrue(found.contains { $0.contains("console.tls.certificate: etc/tls/none.crt does not exist") }, "\(found)")
    }

    func testAnAddressForLinksAndALongerSession() throws {
        XCTAssertEqual(try errors("  listen: \"127.0.0.1:8481\"\n  session_minutes: 480\n  url: \"http://ops.luckygas.example:8481/\"\n"), [])
        let console = try XCTUnwrap(try Configuration.load(root: project.root).settings.console)
        XCTAssertEqual(console.url, "http://ops.luckygas.example:8481", "without the trailing slash")
        XCTAssertEqual(console.sessionMinutes, 480)
    }
}
