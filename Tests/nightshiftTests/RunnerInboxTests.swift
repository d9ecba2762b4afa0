import Foundation
import PostgresClient
import TestSupport
import XCTest

/// Event files with a real runner process: malformed files among valid ones, a file still being
/// written, and a kill -9 in the middle of handling.
final class RunnerInboxTests: XCTestCase {
    var night: RunnerNight!
    var inbox: String { "\(night.project.root)/var/inbox" }

    override func setUpWithError() throws {
        night = try RunnerNight(slow: false)
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
    }

    override func tearDown() { night?.tearDown() }

    /// A Monday inside business hours: P4 requests wait (until 02:00), so nothing runs here.
    func startRunner(_ name: String, until: String = "2026-11-23T10:30:00+08:00") throws -> RunnerProcess {
        try night.start(["run", "--at", "2026-11-23T10:00:00+08:00", "--speed", "10", "--until", until], name: name)
    }

    /// Writes an event file whole: under a temporary name, then renamed in.
    func drop(_ name: String, _ text: String) throws {
        let temporary = "\(inbox)/.\(name).tmp"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        XCTAssertEqual(rename(temporary, "\(inbox)/\(name)"), 0)
    }

    func valid(_ n: Int) -> String {
        // Distinct content per n: the source names the feed.
        "type: data_import_finished\nbusiness_date: 2026-11-22\npriority: P4\nsource: feed-\(n)\n"
    }

    func files(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(inbox)/\(folder)")) ?? []).filter { !$0.hasSuffix(".reason") }.sorted()
    }

    func testTwoHundredMalformedFilesAmongTwentyValidOnesAreEachRejectedWithAReason() throws {
        let runner = try startRunner("runner")
        let kinds: [(Int) -> String] = [
            { "type: data_import_finished\nbusiness_date: [2026-11-22\npriority: P1\nsource: s\($0)\n" },  // bad syntax
            { "type: coffee_ready\nbusiness_date: 2026-11-22\npriority: P1\nsource: s\($0)\n" },            // unknown type
            { "type: data_import_finished\npriority: P1\nsource: s\($0)\n" },                                // missing field
            { "type: data_import_finished\nbusiness_date: 2019-01-0\($0 % 9 + 1)\npriority: P1\nsource: s\($0)\n" }, // far off
            { "type: data_import_finished\nbusiness_date: 2026-11-22\npriority: P1\nsource: ../../s\($0)\n" }, // a path
            { "type: data_import_finished\nbusiness_date: 2026-11-22\npriority: P1\nsource: \"s\($0)'; DROP TABLE x; --\"\n" }, // SQL
            { "{\"type\": \"data_import_finished\", \"business_date\": \"2026-11-22\", \"priority\": \"P0\", \"source\": \"s\($0)\"}" },
            { "type: data_import_finished\nbusiness_date: 2026-11-22\npriority: P1\nsource: s\($0)\nextra: 1\n" }, // unknown key
            { "\u{0}\u{1}binary\($0)" },
            { "- just\n- a list \($0)\n" },
        ]
        for n in 0..<220 {
            if n % 11 == 0 {
                try drop(String(format: "valid-%03d.yaml", n), valid(n))
            } else {
                try drop(String(format: "bad-%03d.yaml", n), kinds[n % kinds.count](n))
            }
        }
        try night.waitUntil("every file is handled", timeout: 60) { files("processed").count + files("rejected").count == 220 }
        XCTAssertEqual(files("processed").count, 20)
        XCTAssertTrue(files("processed").allSatisfy { $0.hasPrefix("valid-") })
        XCTAssertEqual(files("rejected").count, 200)
        for name in files("rejected") {
            let reason = try String(contentsOfFile: "\(inbox)/rejected/\(name).reason", encoding: .utf8)
            XCTAssertTrue(reason.contains("fix:"), "\(name): \(reason)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: inbox).filter { !["processing", "processed", "rejected"].contains($0) }, [])
        XCTAssertEqual(files("processing"), [])
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.events WHERE state = 'processed'"), "20")
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.events WHERE state = 'rejected'"), "200")
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.requests WHERE source = 'event'"), "20")
        try night.waitUntil("each valid event's request is queued once", timeout: 20) {
            try night.scalar("SELECT count(*) FROM nightshift.requests WHERE state = 'queued'") == "20"
        }
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.batch_runs"), "20")

        // The watcher is alive: a file written slowly (no rename) is taken once it is complete,
        // and the same content again is one event.
        let slow = "\(inbox)/slow.yaml"
        let descriptor = open(slow, O_WRONLY | O_CREAT | O_EXCL, 0o644) // created in place, not renamed in
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        handle.write(Data("type: maintenance_done\nbusiness_date: 2026-11-22\n".utf8))
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertTrue(FileManager.default.fileExists(atPath: slow), "not taken while still being written")
        handle.write(Data("priority: P4\nsource: ops\n".utf8))
        try handle.close()
        try night.waitUntil("the slow file is processed", timeout: 20) { files("processed").contains("slow.yaml") }
        try drop("slow-again.yaml", try String(contentsOfFile: "\(inbox)/processed/slow.yaml", encoding: .utf8))
        try night.waitUntil("the copy is handled", timeout: 20) { files("processed").contains("slow-again.yaml") }
        XCTAssertEqual(try night.scalar("SELECT duplicates FROM nightshift.events WHERE file_name = 'slow.yaml'"), "1")
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.requests WHERE source = 'event'"), "21", "the copy made no request")
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 30), 0, runner.logText)
    }

    func testAKillDuringHandlingLosesNoEventAndRunsNoneTwice() throws {
        // Enough files that handling them takes a few seconds: the kill lands in the middle, with
        // files claimed into processing/ but not recorded, recorded but not moved, and not claimed.
        let total = 300
        for n in 0..<total { try drop(String(format: "event-%03d.yaml", n), valid(n)) }
        let first = try startRunner("first")
        try night.waitUntil("some events handled", timeout: 30) {
            Int(try night.scalar("SELECT count(*) FROM nightshift.events") ?? "0")! >= 20
        }
        first.kill(SIGKILL)
        _ = first.wait(timeout: 10)
        let handledBefore = Int(try night.scalar("SELECT count(*) FROM nightshift.events") ?? "0")!
        XCTAssertLessThan(handledBefore, total, "killed in the middle")
        XCTAssertGreaterThan(files("processing").count, 0, "files were claimed and not finished")
        let second = try startRunner("second")
        try night.waitUntil("every event handled", timeout: 60) { files("processed").count == total }
        XCTAssertEqual(files("processing"), [])
        XCTAssertEqual(files("rejected"), [])
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.events"), String(total))
        XCTAssertEqual(try night.scalar("SELECT count(DISTINCT source) FROM nightshift.events"), String(total))
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.requests"), String(total), "one request per event")
        try night.waitUntil("every request queued once", timeout: 30) {
            try night.scalar("SELECT count(*) FROM nightshift.batch_runs") == String(total)
                && night.scalar("SELECT count(*) FROM nightshift.requests WHERE state = 'queued'") == String(total)
        }
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM (SELECT request_id FROM nightshift.batch_runs GROUP BY 1 HAVING count(*) > 1) d"), "0")
        second.kill(SIGTERM)
        XCTAssertEqual(second.wait(timeout: 30), 0, second.logText)
    }

    /// What an attacker with a local account would try: the runner's folders swapped for links,
    /// links, FIFOs and directories dropped in, a file too large to read, a bad file sent again
    /// under another name, a newline in a name to forge a log line, and a umask of 000.
    func testTheInboxCannotBeTurnedAgainstTheHost() throws {
        let elsewhere = try TemporaryDirectory("nightshift-elsewhere")
        defer { elsewhere.remove() }
        try FileManager.default.createDirectory(atPath: inbox, withIntermediateDirectories: true)
        XCTAssertEqual(symlink(elsewhere.path, "\(inbox)/rejected"), 0)
        try drop("bad-one.yaml", "type: coffee_ready\n")
        let command = [try nightshiftBinary(), "run", "--at", "2026-11-23T10:00:00+08:00", "--speed", "10",
                       "--until", "2026-11-23T10:30:00+08:00", "--root", night.project.root, "--log-level", "info"]
        let runner = try RunnerProcess(arguments: ["sh", "-c", "umask 000; exec \"$@\"", "sh"] + command, environment: night.environment,
                                       log: "\(night.project.root)/umask.log")
        night.processes.append(runner)
        try night.waitUntil("status says why the inbox is not used", timeout: 30) {
            try night.cli(["status"]).stdout.contains("/rejected is a symbolic link")
        }
        try night.waitUntil("an alert is raised", timeout: 30) {
            try night.scalar("SELECT count(*) FROM nightshift.alerts WHERE kind = 'runner_problem'") == "1"
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path), [], "nothing written where the link points")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(inbox)/bad-one.yaml"), "nothing taken while the folders are unsafe")

        // Fixed by a person: the runner takes up the inbox on its next pass, with its own folders 0750.
        XCTAssertEqual(unlink("\(inbox)/rejected"), 0)
        XCTAssertEqual(symlink("/etc/passwd", "\(inbox)/link.yaml"), 0)
        XCTAssertEqual(mkfifo("\(inbox)/fifo.yaml", 0o666), 0)
        try FileManager.default.createDirectory(atPath: "\(inbox)/dir.yaml", withIntermediateDirectories: false)
        try drop("big.yaml", "type: maintenance_done\n# " + String(repeating: "x", count: 2 << 20) + "\n")
        try night.waitUntil("the file left from before is rejected", timeout: 30) { files("rejected").contains("bad-one.yaml") }
        try drop("bad-two.yaml", "type: coffee_ready\n") // the same content as bad-one.yaml
        try drop("evil\nforged log line.yaml", "type: coffee_ready\nsource: x\n")
        try drop("good.yaml", valid(1))
        try night.waitUntil("everything is handled", timeout: 60) {
            files("processed") == ["good.yaml"] && files("rejected").count == 7
        }
        XCTAssertEqual(files("rejected").sorted(), ["bad-one.yaml", "bad-two.yaml", "big.yaml", "dir.yaml", "evil\nforged log line.yaml",
                                                    "fifo.yaml", "link.yaml"].sorted())
        func reason(_ name: String) throws -> String { try String(contentsOfFile: "\(inbox)/rejected/\(name).reason", encoding: .utf8) }
        for (name, words) in [("link.yaml", "is a symbolic link, not a regular file"), ("fifo.yaml", "is a FIFO, not a regular file"),
                              ("dir.yaml", "is a directory, not a regular file"), ("big.yaml", "more than"),
                              ("bad-two.yaml", "which was rejected")] {
            let text = try reason(name)
            XCTAssertTrue(text.contains(words), "\(name): \(text)")
        }
        var info = stat()
        XCTAssertEqual(lstat("\(inbox)/rejected/link.yaml", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFLNK, "the link itself was moved, never what it points to")
        for folder in ["processing", "processed", "rejected"] {
            XCTAssertEqual(lstat("\(inbox)/\(folder)", &info), 0)
            XCTAssertEqual(info.st_mode & 0o777, 0o750, "\(folder) under umask 000")
        }
        XCTAssertEqual(lstat("\(inbox)/rejected/bad-one.yaml.reason", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o640, "a reason file under umask 000")
        try night.waitUntil("the problem is cleared", timeout: 30) {
            try night.scalar("SELECT count(*) FROM nightshift.runners WHERE problem IS NOT NULL") == "0"
        }
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 30), 0, runner.logText)
        // A newline in a name never starts a log line of its own.
        XCTAssertFalse(runner.logText.components(separatedBy: "\n").contains { $0.hasPrefix("forged log line") }, runner.logText)
        XCTAssertTrue(runner.logText.contains("evil\\nforged log line.yaml"), runner.logText)
    }
}
