import Packaging
import TestSupport
import XCTest

final class SHA256Tests: XCTestCase {
    func testKnownVectors() throws {
        func digest(_ text: String) throws -> String {
            let hasher = SHA256()
            hasher.update(Array(text.utf8))
            return try hasher.finalize()
        }
        XCTAssertEqual(try digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(try digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(try digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testStreamingInOddPiecesMatchesSha256sum() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var data = [UInt8]()
        for i in 0..<200_003 { data.append(UInt8(truncatingIfNeeded: i &* 31 &+ i >> 7)) }
        try Data(data).write(to: URL(fileURLWithPath: dir.file("blob")))
        let hasher = SHA256()
        var offset = 0
        var piece = 1
        while offset < data.count {
            let end = min(data.count, offset + piece)
            data[offset..<end].withUnsafeBytes { hasher.update($0) }
            offset = end
            piece = piece * 3 % 257 + 1
        }
        let expected = try runProcess(["sha256sum", dir.file("blob")]).stdout.split(separator: " ").first.map(String.init)
        XCTAssertEqual(try hasher.finalize(), expected)
    }

    func testAFinalizedHasherRefusesToBeUsedAgain() throws {
        let hasher = SHA256()
        hasher.update(Array("abc".utf8))
        _ = try hasher.finalize()
        XCTAssertThrowsError(try hasher.finalize()) { error in
            XCTAssertTrue("\(error)".contains("SHA-256 (libcrypto) update after finalize failed"), "\(error)")
        }
    }
}
