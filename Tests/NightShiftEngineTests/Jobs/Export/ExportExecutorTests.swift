import Foundation
import NightShiftEngine
import TestSupport
import XCTest

/// Exports as the accounting office and the auditors receive them, opened with real tools only:
/// gpg decrypts and verifies, bsdtar and unzip extract, sha256sum checks the manifest.
final class ExportExecutorTests: XCTestCase {
    var night: NightFixture!
    var work: TemporaryDirectory!
    var exports: String { "\(night.project.root)/var/exports" }
    let base = "deliveries-2026-11-22"

    override func setUpWithError() throws {
        night = try NightFixture(customers: 1500, days: 1)
        work = try TemporaryDirectory()
    }

    override func tearDown() {
        night?.tearDown()
        work?.remove()
    }

    func exportJob(_ replacements: [(String, String)]) throws {
        var job = try night.project.read("jobs/daily_delivery_export.yaml")
        for (old, new) in replacements {
            XCTAssertTrue(job.contains(old), "the shipped export job has \(old)")
            job = job.replacingOccurrences(of: old, with: new)
        }
        try night.project.write("jobs/daily_delivery_export.yaml", job)
    }

    func testSignedTarZstdToTwoRecipientsEachOfWhomDecryptsIt() throws {
        // The accounting office's key goes into the runner's keyring next to the exports key.
        let office = try ThrowawayKeyring(email: "accounting@luckygas.test")
        defer { office.remove() }
        let exported = try runProcess(["gpg", "--homedir", office.home, "--batch", "--armor", "--export", office.email])
        let imported = try runProcess(["gpg", "--homedir", night.keyring.home, "--batch", "--import"], stdin: Data(exported.stdout.utf8))
        XCTAssertEqual(imported.status, 0, imported.stderr)
        try night.project.configure(keyring: night.keyring.home, recipient: night.keyring.email, signingKey: night.keyring.email)
        try exportJob([("rows_per_file: 50000", "rows_per_file: 150"), ("format: zip", "format: tar.zst"),
                       ("customer_data: true", "customer_data: true\n  recipients: [\(night.keyring.email), \(office.email)]\n  sign: true")])

        let report = try night.run()
        XCTAssertEqual(report.jobs.map(\.state.rawValue), report.jobs.map { _ in "succeeded" })
        let all = try night.count("SELECT count(*) FROM erp.deliveries WHERE delivery_date = '2026-11-22'")
        let parts = (all + 149) / 150
        XCTAssertGreaterThan(parts, 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: exports).sorted(),
                       ((1...parts).map { String(format: "\(base)-%04d.tar.zst.gpg", $0) } + ["\(base).manifest.json", "\(base).manifest.json.asc"]).sorted())

        // Each recipient decrypts every part on their own; the parts and the manifest are signed.
        let signer = try night.keyring.fingerprint()
        let asExports = try ExportOnDisk(directory: exports, base: base, keyring: night.keyring, work: work.file("exports"))
        XCTAssertEqual(asExports.manifest["signed_by"] as? String, signer)
        XCTAssertEqual(Set(asExports.manifest["encrypted_to"] as? [String] ?? []), Set([signer, try office.fingerprint()]))
        XCTAssertEqual(asExports.manifest["format"] as? String, "tar.zst")
        // The office verifies the signatures with the exports key's public part.
        let signerKey = try runProcess(["gpg", "--homedir", night.keyring.home, "--batch", "--armor", "--export", night.keyring.email])
        XCTAssertEqual(try runProcess(["gpg", "--homedir", office.home, "--batch", "--import"], stdin: Data(signerKey.stdout.utf8)).status, 0)
        let asOffice = try ExportOnDisk(directory: exports, base: base, keyring: office, work: work.file("office"))
        XCTAssertEqual(asOffice.files.map(\.text), asExports.files.map(\.text))

        // Every delivery exactly once, in key order, across the parts.
        XCTAssertEqual(asOffice.rows, all)
        let ids = asOffice.files.flatMap { $0.text.split(separator: "\n").dropFirst().map { String($0.prefix { $0 != "," }) } }
        let expected = try night.db.execute("SELECT id FROM erp.deliveries WHERE delivery_date = '2026-11-22' ORDER BY id")
        XCTAssertEqual(ids, (0..<expected.rowCount).map { expected.string($0, "id")! })
        XCTAssertEqual(asOffice.files.map(\.rows), asOffice.files.map { $0.text.split(separator: "\n").count - 1 })

        // Tampering is detected: a byte of an archive, a figure in the manifest.
        let first = "\(exports)/\(base)-0001.tar.zst.gpg"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: first))
        let original = bytes
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: first))
        XCTAssertThrowsError(try ExportOnDisk(directory: exports, base: base, keyring: office, work: work.file("t1"))) {
            XCTAssertTrue("\($0)".contains("SHA-256 is not the manifest's"), "\($0)")
        }
        try original.write(to: URL(fileURLWithPath: first))
        let manifestPath = "\(exports)/\(base).manifest.json"
        let manifest = try String(contentsOfFile: manifestPath, encoding: .utf8)
        try manifest.replacingOccurrences(of: "\"rows\" : \(all)", with: "\"rows\" : \(all - 1)")
            .write(toFile: manifestPath, atomically: true, encoding: .utf8)
        XCTAssertNotEqual(try String(contentsOfFile: manifestPath, encoding: .utf8), manifest)
        XCTAssertThrowsError(try ExportOnDisk(directory: exports, base: base, keyring: office, work: work.file("t2"))) {
            XCTAssertTrue("\($0)".contains("gpg --verify of the manifest failed"), "\($0)")
        }
    }

    func testFewerPartsOnARerunRetireTheOldOnesAndAnExportWithoutCustomerDataMayBePlain() throws {
        try exportJob([("rows_per_file: 50000", "rows_per_file: 200")])
        _ = try night.run()
        let all = try night.count("SELECT count(*) FROM erp.deliveries WHERE delivery_date = '2026-11-22'")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: exports).count, (all + 199) / 200 + 1)

        // The same date again, unencrypted (the job no longer says it carries customer data) and in one part.
        try exportJob([("rows_per_file: 200", "rows_per_file: 50000"), ("customer_data: true", "customer_data: false\n  recipients: []")])
        let report = try night.run()
        XCTAssertEqual(report.jobs.first { $0.job.name == "daily_delivery_export" }?.state.rawValue, "succeeded")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: exports).sorted(), ["\(base)-0001.zip", "\(base).manifest.json"])
        let export = try ExportOnDisk(directory: exports, base: base, keyring: nil, work: work.path)
        XCTAssertEqual(export.rows, all)
        XCTAssertEqual(export.manifest["encrypted_to"] as? [String], [])
        XCTAssertEqual(export.files.count, 1)
    }
}
