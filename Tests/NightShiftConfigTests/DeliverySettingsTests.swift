import Foundation
import NightShiftConfig
import TestSupport
import XCTest

/// `deliveries:` in etc/nightshift.yaml and `deliver_to:` in a job file: a pinned host key, a key
/// file outside the project, and a job that names only targets that exist.
final class DeliverySettingsTests: XCTestCase {
    var project: ProjectCopy!
    /// 32 bytes, base64 without padding, as `ssh-keygen -lf` prints a SHA-256.
    let pin = Data(repeating: 7, count: 32).base64EncodedString().replacingOccurrences(of: "=", with: "")

    override func setUpWithError() throws { project = try ProjectCopy() }
    override func tearDown() { project?.cleanup() }

    private func errors(_ deliveries: String, job: (name: String, line: String)? = nil) throws -> [String] {
        // The delivery sender holds one more connection: 8 + 2 × 2 slots + 1 (console) + 1.
        let settings = try project.read("etc/nightshift.yaml").replacingOccurrences(of: "max_connections: 13", with: "max_connections: 14")
        try project.write("etc/nightshift.yaml", settings + "\ndeliveries:\n" + deliveries)
        if let job {
            let text = try project.read("jobs/\(job.name).yaml")
            try project.write("jobs/\(job.name).yaml", text + "\n" + job.line + "\n")
        }
        return Configuration.check(root: project.root).errors.map(\.description)
    }

    func testATargetWithAPinnedKeyAndAJobThatDeliversToIt() throws {
        let found = try errors("""
              bank:
                url: sftp://nsdeliver@bank-gw.example:22/inbox/lucky-gas
                host_key_sha256: "SHA256:\(pin)="
                private_key: /etc/nightshift/delivery-bank.key
                max_attempts: 5
            """, job: ("daily_delivery_export", "deliver_to: [bank]"))
        XCTAssertEqual(found, [])
        let configuration = try Configuration.load(root: project.root)
        XCTAssertEqual(configuration.settings.deliveries["bank"],
                       DeliveryTarget(name: "bank", url: "sftp://nsdeliver@bank-gw.example:22/inbox/lucky-gas", hostKeySHA256: pin,
                                      privateKey: "/etc/nightshift/delivery-bank.key", maxAttempts: 5))
        XCTAssertEqual(configuration.jobs.first { $0.name == "daily_delivery_export" }?.deliverTo, ["bank"])
        XCTAssertEqual(configuration.jobs.first { $0.name == "branch_sales_report" }?.deliverTo, [])
    }

    func testTheDeliverySendersConnectionIsCounted() throws {
        let settings = try project.read("etc/nightshift.yaml")
        try project.write("etc/nightshift.yaml", settings + "\ndeliveries:\n  bank:\n    url: sftp://u@h/in\n    host_key_sha256: \(pin)\n    private_key: /k\n")
        let found = Configuration.check(root: project.root).errors.map(\.description)
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found[0].contains("2 job slots need 14 connections (8 for the runner's services, 1 for the delivery sender, 1 for the console, 2 per slot), over max_connections: 13"),
                      found[0])
    }

    func testEveryMistakeIsNamedWithWhereAndHow() throws {
        let found = try errors("""
              bank:
                url: ftp://bank-gw.example/inbox
                host_key_sha256: "not a key"
                private_key: \(project.root)/etc/bank.key
                port: 22
              Bad-Name:
                url: sftp://u@h/x
            """)
        XCTAssertTrue(found.contains { $0.contains("deliveries.bank.url") && $0.contains("is not sftp://user@host[:port]/folder") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("deliveries.bank.host_key_sha256") && $0.contains("ssh-keygen -lf") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("deliveries.bank.private_key") && $0.contains("is inside the project") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("deliveries.bank.port: unknown key") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("`Bad-Name` is not a delivery target name") }, "\(found)")
    }

    func testAJobMayNameOnlyConfiguredTargetsAndOnlyIfItWritesFiles() throws {
        var found = try errors("""
              bank:
                url: sftp://nsdeliver@bank-gw.example/inbox
                host_key_sha256: \(pin)
                private_key: /etc/nightshift/bank.key
            """, job: ("daily_delivery_export", "deliver_to: [tax_office]"))
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found[0].contains("jobs/daily_delivery_export") && found[0].contains("deliver_to") && found[0].contains("no delivery target `tax_office`")
                      && found[0].contains("name one of bank"), found[0])
        project.cleanup()
        project = try ProjectCopy()
        found = try errors("""
              bank:
                url: sftp://nsdeliver@bank-gw.example/inbox
                host_key_sha256: \(pin)
                private_key: /etc/nightshift/bank.key
            """, job: ("daily_sales_summary", "deliver_to: [bank]"))
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found[0].contains("a job of kind aggregation writes no files to deliver"), found[0])
    }
}
