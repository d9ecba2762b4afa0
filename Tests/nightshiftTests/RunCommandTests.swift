import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// What `nightshift run` tells the operator and systemd: the notifications of a Type=notify
/// service, a batch with no jobs, and a summary that cannot be written.
final class RunCommandTests: XCTestCase {
    var night: RunnerNight!

    override func setUpWithError() throws { night = try RunnerNight(slow: false) }
    override func tearDown() { night?.tearDown() }

    func testTheServiceTellsSystemdReadyStatusWatchdogAndStopping() throws {
        let socket = try NotifySocket(path: "\(night.project.root)/notify.sock")
        defer { socket.close() }
        // A short simulated stretch: 01:59:50 to 02:10 at 600x is about a second of real time.
        let runner = try night.start(["run", "--at", RunnerNight.at, "--speed", "600", "--until", "2026-11-23T02:10:00+08:00"],
                                     name: "notify", extraEnvironment: ["NOTIFY_SOCKET": socket.path])
        XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
        let messages = socket.receiveAll()
        XCTAssertEqual(messages.first, "READY=1", "\(messages)")
        let stopping = try XCTUnwrap(messages.firstIndex(of: "STOPPING=1"), "\(messages)")
        XCTAssertTrue(messages[(stopping + 1)...].allSatisfy { $0 == "WATCHDOG=1" || $0.hasPrefix("STATUS=stopping: ") }, "\(messages)")
        XCTAssertTrue(messages.contains("WATCHDOG=1"), "\(messages)")
        XCTAssertTrue(messages.contains { $0.hasPrefix("STATUS=") && $0.contains("running; clock 2026-11-23T0") }, "\(messages)")
    }

    func testABatchWithNoJobsSaysSoAndExitsNonZero() throws {
        let result = try night.cli(["run", "--once", "--batch", "weekly", "--at", "2026-11-23T03:00:00+08:00"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("the weekly batch has no jobs"), result.stderr + result.stdout)
        XCTAssertFalse(result.stdout.contains("SUCCEEDED"), result.stdout)
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.batch_runs"), "0", "nothing was recorded as run")
    }

    func testASummaryThatCannotBeWrittenFailsTheRunAndStatusSaysSo() throws {
        try FileManager.default.removeItem(atPath: "\(night.project.root)/templates/summary.txt.mustache")
        let result = try night.cli(["run", "--once", "--at", RunnerNight.occurrence])
        XCTAssertEqual(result.status, 1, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("SUCCEEDED"), "the jobs themselves ran: \(result.stdout)")
        XCTAssertTrue(result.stdout.contains("summary message NOT written") && result.stdout.contains("summary.txt.mustache"), result.stdout)
        XCTAssertTrue(try night.scalar("SELECT summary_error FROM nightshift.batch_runs")!.contains("summary.txt.mustache"))
        let status = try night.cli(["status"])
        XCTAssertTrue(status.stdout.contains("has ended but its summary is not written"), status.stdout)

        // Restored, the next run of the occurrence writes the missing summary and succeeds.
        let original = try String(contentsOfFile: "\(repositoryRoot())/templates/summary.txt.mustache", encoding: .utf8)
        try night.project.write("templates/summary.txt.mustache", original)
        let again = try night.cli(["run", "--once", "--at", RunnerNight.occurrence])
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
        XCTAssertTrue(again.stdout.contains("summary message: "), again.stdout)
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.job_runs WHERE attempts > 1"), "0", "no job ran again")
    }
}

/// The receiving end of `$NOTIFY_SOCKET`: an AF_UNIX datagram socket, as systemd binds it.
final class NotifySocket {
    let path: String
    private var fd: Int32

    init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw TestSetupError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw TestSetupError("bind \(path): errno \(errno)") }
    }

    /// Every datagram received so far, in order.
    func receiveAll() -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return messages }
            messages.append(String(decoding: buffer[0..<n], as: UTF8.self))
        }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        unlink(path)
    }
}
