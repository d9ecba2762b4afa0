import Foundation
import Packaging
import TestSupport
import XCTest

/// Writes `entries` lines per entry, `entryCount` entries, 500 lines per step.
final class NumberedLines: ArchiveContentSource {
    let entryCount: Int
    let lines: Int
    var entry = 0
    var line = 0
    var failAfterLines: Int?

    init(entryCount: Int, lines: Int) { self.entryCount = entryCount; self.lines = lines }

    static func line(_ entry: Int, _ n: Int) -> String { "entry \(entry),line \(n),幸福瓦斯 20kg 鋼瓶\n" }

    func writeNext(into archive: ArchiveStreamWriter) throws -> Bool {
        if entry == entryCount { return false }
        if line == 0 { try archive.beginEntry(path: "part-\(entry).csv", modified: 1_795_000_000) }
        var chunk = ""
        for _ in 0..<500 where line < lines {
            if let limit = failAfterLines, entry * lines + line >= limit { throw TestSetupError("source failed on purpose") }
            chunk += NumberedLines.line(entry, line)
            line += 1
        }
        var bytes = Array(chunk.utf8)
        try bytes.withUnsafeMutableBytes { try archive.write(UnsafeRawBufferPointer($0)) }
        if line == lines { try archive.finishEntry(); entry += 1; line = 0 }
        return true
    }
}

final class EncryptedArchiveTests: XCTestCase {
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

    func testRealGpgDecryptsAndUnzipReadsEveryLine() throws {
        let pgp = try OpenPGPContext(homedir: keyring.home)
        let key = try pgp.encryptionKey(for: keyring.email)
        let path = dir.file("export.zip.gpg")
        let result = try EncryptedArchive.write(to: path, recipients: [key], using: pgp,
                                                source: NumberedLines(entryCount: 3, lines: 20_000))

        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".partial"))
        let sum = try runProcess(["sha256sum", path]).stdout.split(separator: " ").first.map(String.init)
        XCTAssertEqual(result.sha256, sum)
        XCTAssertEqual(result.bytes, try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)

        // The ciphertext is not a zip: nothing readable without the key.
        XCTAssertNotEqual(try runProcess(["unzip", "-l", path]).status, 0)

        try keyring.decrypt(path, to: dir.file("export.zip"))
        let listing = try runProcess(["unzip", "-Z1", dir.file("export.zip")])
        XCTAssertEqual(listing.status, 0, listing.stderr)
        XCTAssertEqual(listing.stdout.split(separator: "\n"), ["part-0.csv", "part-1.csv", "part-2.csv"])
        let part1 = try runProcess(["unzip", "-p", dir.file("export.zip"), "part-1.csv"]).stdout
        let lines = part1.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertEqual(lines.count, 20_000)
        XCTAssertEqual(String(lines[12_345]) + "\n", NumberedLines.line(1, 12_345))
        // bsdtar reads the same archive (streamed Zip64 entries with data descriptors).
        let tarList = try runProcess(["bsdtar", "-tf", dir.file("export.zip")])
        XCTAssertEqual(tarList.status, 0, tarList.stderr)
    }

    func testFailingSourceLeavesNoFileBehind() throws {
        let pgp = try OpenPGPContext(homedir: keyring.home)
        let key = try pgp.encryptionKey(for: keyring.email)
        let source = NumberedLines(entryCount: 2, lines: 10_000)
        source.failAfterLines = 15_000
        let path = dir.file("broken.zip.gpg")
        XCTAssertThrowsError(try EncryptedArchive.write(to: path, recipients: [key], using: pgp, source: source)) { error in
            XCTAssertEqual((error as? TestSetupError)?.description, "source failed on purpose")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testUnknownRecipientSaysHowToFixIt() throws {
        let pgp = try OpenPGPContext(homedir: keyring.home)
        XCTAssertThrowsError(try pgp.encryptionKey(for: "nobody@luckygas.test")) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("no public key for recipient nobody@luckygas.test"), text)
            XCTAssertTrue(text.contains("--import"), text)
        }
    }
}

/// What `EncryptedArchive.write` wrote comes back through `EncryptedArchiveReader`: gpgme decrypts
/// on its own thread into libarchive; a changed byte anywhere fails the read.
final class EncryptedArchiveReaderTests: XCTestCase {
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

    func write(_ path: String) throws -> EncryptedArchiveResult {
        let pgp = try OpenPGPContext(homedir: keyring.home)
        let source = NumberedLines(entryCount: 3, lines: 20_000)
        // A zip: these entries are streamed with no size known in advance (a tar header needs one).
        return try EncryptedArchive.write(to: path, format: .zip(level: 6),
                                          protection: ArchiveProtection(pgp: pgp, recipients: [try pgp.encryptionKey(for: keyring.email)]),
                                          source: source)
    }

    func testReadsBackEveryEntryAndHashesTheFile() throws {
        let path = dir.file("lines.zip.gpg")
        let written = try write(path)
        let pgp = try OpenPGPContext(homedir: keyring.home)
        XCTAssertTrue(try pgp.hasSecretKey(for: keyring.email))
        XCTAssertFalse(try pgp.hasSecretKey(for: "nobody@luckygas.test"))
        var entries: [String: Int] = [:]
        var firstLine = ""
        let digest = try EncryptedArchiveReader.read(from: path, pgp: pgp) { name, reader in
            var text: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
                if n == 0 { break }
                text.append(contentsOf: buffer[0..<n])
            }
            entries[name] = text.filter { $0 == 0x0A }.count
            if name == "part-1.csv" { firstLine = String(decoding: text.prefix { $0 != 0x0A }, as: UTF8.self) }
        }
        XCTAssertEqual(entries, ["part-0.csv": 20_000, "part-1.csv": 20_000, "part-2.csv": 20_000])
        XCTAssertEqual(firstLine + "\n", NumberedLines.line(1, 0))
        XCTAssertEqual(digest.sha256, written.sha256)
        XCTAssertEqual(digest.bytes, written.bytes)
    }

    func testAChangedByteOrAWrongKeyringFails() throws {
        let path = dir.file("lines.zip.gpg")
        _ = try write(path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 40] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: path))
        let pgp = try OpenPGPContext(homedir: keyring.home)
        XCTAssertThrowsError(try EncryptedArchiveReader.read(from: path, pgp: pgp) { _, _ in }) { error in
            XCTAssertTrue(error is OpenPGPError || error is ArchiveError, "\(error)")
        }
        let other = try ThrowawayKeyring(email: "someone-else@luckygas.test")
        defer { other.remove() }
        XCTAssertThrowsError(try EncryptedArchiveReader.read(from: path, pgp: try OpenPGPContext(homedir: other.home)) { _, _ in }) { error in
            XCTAssertTrue("\(error)".contains("decrypting"), "\(error)")
        }
    }
}
