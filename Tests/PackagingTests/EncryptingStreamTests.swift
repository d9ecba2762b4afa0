import Foundation
import Packaging
import TestSupport
import XCTest

/// Bytes pushed into an `EncryptingStream` come out of the real `gpg` CLI unchanged; the plaintext
/// never reaches the file; a stream that is abandoned or whose sink fails ends cleanly.
final class EncryptingStreamTests: XCTestCase {
    var keyring: ThrowawayKeyring!
    var dir: TemporaryDirectory!

    override func setUpWithError() throws {
        keyring = try ThrowawayKeyring()
        dir = try TemporaryDirectory()
    }

    override func tearDown() {
        keyring?.remove()
        dir?.remove()
    }

    func protection() throws -> ArchiveProtection {
        let pgp = try OpenPGPContext(homedir: keyring.home)
        return ArchiveProtection(pgp: pgp, recipients: [try pgp.encryptionKey(for: keyring.email)])
    }

    func testManySmallWritesDecryptToTheSameBytesWithTheLiteralName() throws {
        let path = dir.file("register.csv.gpg")
        let output = try OutputFile(path: path, mode: 0o640)
        let stream = EncryptingStream(protection: try protection(), literalName: "register.csv", capacity: 4096) { try output.write($0) }
        var plain: [UInt8] = []
        for n in 0..<40_000 {  // ~1.6 MB in writes of ~40 bytes, through a 4 KiB buffer
            let line = Array("\(n),陳大明瓦斯行,台北市中山區\n".utf8)
            plain += line
            try line.withUnsafeBytes { try stream.write($0) }
        }
        try stream.close()
        try output.commit()

        let raw = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertNil(raw.range(of: Data("陳大明瓦斯行".utf8)), "no plaintext in the file")
        let decrypted = dir.file("register.csv")
        let gpg = try runProcess(["gpg", "--homedir", keyring.home, "--batch", "--yes", "--status-fd", "1",
                                  "--output", decrypted, "--decrypt", path])
        XCTAssertEqual(gpg.status, 0, gpg.stderr)
        XCTAssertTrue(gpg.stdout.contains("PLAINTEXT 62 ") && gpg.stdout.contains(" register.csv"), gpg.stdout)
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: decrypted))), plain)
    }

    func testAFailingSinkStopsTheWriterWithItsError() throws {
        struct DiskFull: Error {}
        let stream = EncryptingStream(protection: try protection(), literalName: "x.csv", capacity: 1024) { _ in throw DiskFull() }
        let chunk = [UInt8](repeating: 65, count: 1000)
        var thrown: Error?
        for _ in 0..<100_000 {
            do { try chunk.withUnsafeBytes { try stream.write($0) } } catch { thrown = error; break }
        }
        if thrown == nil { XCTAssertThrowsError(try stream.close()) { thrown = $0 } }
        XCTAssertTrue(thrown is DiskFull, "\(String(describing: thrown))")
        XCTAssertThrowsError(try chunk.withUnsafeBytes { try stream.write($0) })
    }

    func testAbandonEndsTheThreadAndLaterWritesAreRefused() throws {
        let stream = EncryptingStream(protection: try protection(), literalName: "x.csv") { _ in }
        try Array("half a report\n".utf8).withUnsafeBytes { try stream.write($0) }
        stream.abandon()
        stream.abandon()
        XCTAssertThrowsError(try Array("more\n".utf8).withUnsafeBytes { try stream.write($0) }) { error in
            XCTAssertTrue("\(error)".contains("the encryption of x.csv was stopped before its end"), "\(error)")
        }
        XCTAssertThrowsError(try stream.close())
    }
}
