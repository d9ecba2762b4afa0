import Foundation
import NightShiftMail
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The kept copies of mail may hold customer names: whatever the umask, the folder is 0750 and
/// each message 0640, and a link where a message goes is replaced, never written through.
final class OutboxTests: XCTestCase {
    func testModesAreFixedWhateverTheUmask() throws {
        let directory = try TemporaryDirectory("nightshift-outbox")
        defer { directory.remove() }
        let previous = umask(0)
        defer { umask(previous) }
        let outbox = Outbox(directory: directory.file("var/outbox"))
        let victim = directory.file("victim.txt")
        try Data("untouched".utf8).write(to: URL(fileURLWithPath: victim))
        try FileManager.default.createDirectory(atPath: outbox.directory, withIntermediateDirectories: true)
        chmod(outbox.directory, 0o750)
        XCTAssertEqual(symlink(victim, "\(outbox.directory)/night.eml"), 0)
        let message = MailMessage(from: "NightShift <n@luckygas.test>", to: ["ops@luckygas.test"], subject: "s", date: Date(), text: "t", html: "<p>t</p>")
        let (path, _) = try outbox.store(message, name: "night")
        var info = stat()
        XCTAssertEqual(lstat(path, &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFREG, "the link was replaced by the message")
        XCTAssertEqual(info.st_mode & 0o777, 0o640)
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "untouched")
        let fresh = Outbox(directory: directory.file("new/outbox"))
        _ = try fresh.store(message, name: "x")
        for folder in [directory.file("new"), directory.file("new/outbox")] {
            XCTAssertEqual(lstat(folder, &info), 0)
            XCTAssertEqual(info.st_mode & 0o777, 0o750, folder)
        }
    }
}
