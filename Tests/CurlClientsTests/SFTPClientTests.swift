import CurlClients
import Foundation
import TestSupport
import XCTest

/// The SFTP client against a real OpenSSH server on loopback (scripts/sftp-server): chrooted,
/// sftp-only, key login, its own host key. What arrives is read back from the server's disk.
final class SFTPClientTests: XCTestCase {
    var server: LoopbackSFTPServer!
    var local: TemporaryDirectory!

    override func setUpWithError() throws {
        server = try LoopbackSFTPServer()
        local = try TemporaryDirectory("nightshift-sftp-local")
    }

    override func tearDown() {
        server = nil
        local?.remove()
    }

    func settings(hostKey: String? = nil, timeout: Double = 30) -> SFTPServer {
        SFTPServer(url: server.url + "/bank", hostKeySHA256: hostKey ?? server.hostKeySHA256, privateKeyFile: server.privateKey,
                   connectTimeout: 5, timeout: timeout)
    }

    func file(_ name: String, bytes: Int, seed: UInt64) throws -> (path: String, data: Data) {
        var random = SplitMix(seed: seed)
        let data = Data((0..<bytes).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        let path = local.file(name)
        try data.write(to: URL(fileURLWithPath: path))
        return (path, data)
    }

    func received(_ name: String) -> Data? { FileManager.default.contents(atPath: "\(server.uploads)/bank/\(name)") }

    func testAFileArrivesWholeUnderItsNameAndASecondUploadReplacesIt() throws {
        let client = try SFTPClient(server: settings())
        defer { client.close() }
        let first = try file("receivables.csv.gpg", bytes: 3 << 20, seed: 1)
        let receipt = try client.upload(file: first.path, as: "receivables.csv.gpg")
        XCTAssertEqual(receipt, SFTPReceipt(remotePath: "/upload/bank/receivables.csv.gpg", size: Int64(3 << 20)))
        XCTAssertEqual(received("receivables.csv.gpg"), first.data, "byte for byte, on the server's disk")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(server.uploads)/bank"), ["receivables.csv.gpg"],
                       "no .part is left; the missing folder was made")
        XCTAssertEqual(try client.size(of: "receivables.csv.gpg"), Int64(3 << 20))
        XCTAssertNil(try client.size(of: "nothing-here.csv"))

        // Sent again with other content (a rerun): SFTP does not rename onto a name, so the old copy
        // is removed first; one complete copy of the new content remains.
        let second = try file("receivables-2.csv.gpg", bytes: 70_000, seed: 2)
        _ = try client.upload(file: second.path, as: "receivables.csv.gpg")
        XCTAssertEqual(received("receivables.csv.gpg"), second.data)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(server.uploads)/bank"), ["receivables.csv.gpg"])
    }

    func testAnUploadCutOffMidwayIsRedoneAndTheReceiverEndsWithOneCompleteCopy() throws {
        // What a runner killed mid-upload leaves: part of the file under the hidden temporary name.
        let whole = try file("vat.txt", bytes: 1 << 20, seed: 3)
        let folder = "\(server.uploads)/bank"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var cutOff = whole.data.prefix(300_000)
        cutOff.replaceSubrange(100_000..<100_010, with: Data(count: 10)) // a hole from a pipelined write
        try cutOff.write(to: URL(fileURLWithPath: "\(folder)/.vat.txt.part"))
        XCTAssertEqual(try runProcess(["chown", "-R", "nsdeliver:", folder]).status, 0, "the account's own files, as an upload leaves them")
        XCTAssertNil(received("vat.txt"), "the final name never holds a partial file")
        let client = try SFTPClient(server: settings())
        defer { client.close() }
        _ = try client.upload(file: whole.path, as: "vat.txt")
        XCTAssertEqual(received("vat.txt"), whole.data)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["vat.txt"])
    }

    func testAHostKeyThatDoesNotMatchRefusesTheDeliveryAndNothingIsSent() throws {
        // The pin of another key (a server that is not the one configured).
        let other = try runProcess(["/bin/sh", "-c", "ssh-keygen -q -t ed25519 -N '' -f \(local.file("other")) && ssh-keygen -lf \(local.file("other.pub")) | awk '{print $2}'"])
        let pin = other.stdout.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "SHA256:", with: "")
        let client = try SFTPClient(server: settings(hostKey: pin))
        defer { client.close() }
        let data = try file("x.csv", bytes: 1000, seed: 4)
        XCTAssertThrowsError(try client.upload(file: data.path, as: "x.csv")) { error in
            let failure = error as? SFTPError
            XCTAssertEqual(failure?.curlCode, 60)
            XCTAssertTrue(failure?.message.contains("host key mismatch: expected SHA256:\(pin) got SHA256:\(server.hostKeySHA256.replacingOccurrences(of: "=", with: ""))") == true,
                          "\(error)")
            XCTAssertEqual(failure?.isPermanent, true)
        }
        XCTAssertEqual(server.files(), [], "nothing reached the server")
    }

    func testAServerThatIsDownIsATransientFailureAndBadConfigurationIsPermanent() throws {
        let data = try file("x.csv", bytes: 1000, seed: 5)
        server.stop()
        let client = try SFTPClient(server: settings())
        defer { client.close() }
        XCTAssertThrowsError(try client.upload(file: data.path, as: "x.csv")) { error in
            XCTAssertEqual((error as? SFTPError)?.curlCode, 7, "\(error)")
            XCTAssertEqual((error as? SFTPError)?.isPermanent, false)
        }
        try server.start()
        XCTAssertEqual(try client.upload(file: data.path, as: "x.csv").size, 1000, "the same client delivers once the server is back")

        XCTAssertThrowsError(try client.upload(file: data.path, as: "../escape.csv")) { error in
            XCTAssertEqual((error as? SFTPError)?.kind, .configuration)
            XCTAssertEqual((error as? SFTPError)?.isPermanent, true)
        }
        XCTAssertThrowsError(try SFTPClient(server: SFTPServer(url: "ftp://bank/x", hostKeySHA256: "abc", privateKeyFile: "k"))) { error in
            XCTAssertTrue("\(error)".contains("is not sftp://user@host[:port]/folder"), "\(error)")
        }
        XCTAssertThrowsError(try client.upload(file: local.file("missing.csv"), as: "missing.csv")) { error in
            XCTAssertEqual((error as? SFTPError)?.kind, .localFile)
        }
    }
}
