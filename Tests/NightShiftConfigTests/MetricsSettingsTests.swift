import Foundation
import NightShiftConfig
import TestSupport
import XCTest

/// `metrics:`: loopback only, and a textfile inside the project that node exporter will read.
final class MetricsSettingsTests: XCTestCase {
    var project: ProjectCopy!

    override func setUpWithError() throws { project = try ProjectCopy() }
    override func tearDown() { project?.cleanup() }

    private func errors(_ metrics: String) throws -> [String] {
        let settings = try project.read("etc/nightshift.yaml")
        try project.write("etc/nightshift.yaml", settings + "\nmetrics:\n" + metrics)
        return Configuration.check(root: project.root).errors.map(\.description)
    }

    func testLoopbackAndATextfileInsideTheProject() throws {
        XCTAssertEqual(try errors("  listen: \"127.0.0.1:9464\"\n  textfile: var/metrics/nightshift.prom\n"), [])
        let metrics = try Configuration.load(root: project.root).settings.metrics
        XCTAssertEqual(metrics, MetricsSettings(host: "127.0.0.1", port: 9464, textfile: "\(project.root)/var/metrics/nightshift.prom"))
    }

    func testTheNetworkAndPathsOutsideAreRefused() throws {
        var found = try errors("  listen: \"0.0.0.0:9464\"\n")
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found[0].contains("metrics.listen: 0.0.0.0 is not a loopback address") && found[0].contains("listen on 127.0.0.1"), found[0])
        project.cleanup()
        project = try ProjectCopy()
        found = try errors("  textfile: /var/lib/node_exporter/nightshift.prom\n")
        XCTAssertTrue(found.first?.contains("metrics.textfile: `/var/lib/node_exporter/nightshift.prom` leaves \(project.root)") == true, "\(found)")
        project.cleanup()
        project = try ProjectCopy()
        try FileManager.default.createDirectory(atPath: "\(project.root)/var", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(project.root)/var/metrics", withDestinationPath: "/tmp/nightshift-no-such-folder")
        found = try errors("  textfile: var/metrics/nightshift.prom\n")
        XCTAssertTrue(found.first?.contains("metrics.textfile: `var/metrics/nightshift.prom` resolves (through a symbolic link) to /tmp/nightshift-no-such-folder/nightshift.prom") == true, "\(found)")
        project.cleanup()
        project = try ProjectCopy()
        found = try errors("  textfile: var/metrics/nightshift.txt\n  port: 9\n")
        XCTAssertEqual(found.count, 2, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("does not end in .prom") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("metrics.port: unknown key") }, "\(found)")
    }
}
