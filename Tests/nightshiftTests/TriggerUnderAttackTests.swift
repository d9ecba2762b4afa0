import Foundation
import TestSupport
import XCTest

/// The HTTP trigger as an attacker meets it, against a real running service over real TLS: check
/// refuses clear text off loopback; 200 slow, silent, oversized, endless-chunked and
/// promised-body clients are cut off while a valid call is answered within a second, with the
/// service's CPU and memory measured; per-key rate limits; SIGTERM under attack.
final class TriggerUnderAttackTests: XCTestCase {
    var night: RunnerNight!
    var port = 0
    var settings = ""

    override func setUpWithError() throws {
        night = try RunnerNight(slow: false)
        port = try freeLoopbackPort()
        settings = try night.project.read("etc/nightshift.yaml")
            .replacingOccurrences(of: "max_connections: 12", with: "max_connections: 13")
        try FileManager.default.createDirectory(atPath: "\(night.project.root)/etc/tls", withIntermediateDirectories: true)
        let made = try runProcess(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                   "-keyout", "\(night.project.root)/etc/tls/api.key", "-out", "\(night.project.root)/etc/tls/api.crt",
                                   "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        XCTAssertEqual(made.status, 0, made.stderr)
        chmod("\(night.project.root)/etc/tls/api.key", 0o600)
    }

    override func tearDown() { night?.tearDown() }

    func configure(_ api: String) throws { try night.project.write("etc/nightshift.yaml", settings + "\napi:\n" + api) }

    func testCheckRefusesAnAPIOffLoopbackWithoutTLSAndABadKeyFile() throws {
        try configure("  listen: \"0.0.0.0:\(port)\"\n")
        let open = try night.cli(["check"])
        XCTAssertNotEqual(open.status, 0)
        XCTAssertTrue((open.stdout + open.stderr).contains("0.0.0.0 is not a loopback address and api.tls is not set: API keys would cross the network in clear text"),
                      open.stderr)
        chmod("\(night.project.root)/etc/tls/api.key", 0o644)
        try configure("  listen: \"0.0.0.0:\(port)\"\n  tls: {certificate: etc/tls/api.crt, key: etc/tls/api.key}\n")
        let readable = try night.cli(["check"])
        XCTAssertNotEqual(readable.status, 0)
        XCTAssertTrue((readable.stdout + readable.stderr).contains("etc/tls/api.key is readable or writable by every account (mode 644)"), readable.stderr)
        chmod("\(night.project.root)/etc/tls/api.key", 0o600)
        try night.project.write("etc/tls/api.crt", "not a certificate\n")
        let bad = try night.cli(["check"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue((bad.stdout + bad.stderr).contains("cannot be read as PEM"), bad.stdout + bad.stderr)
    }

    func testTwoHundredHostileClientsCannotStopAValidCallOrTheService() throws {
        try configure("""
              listen: "127.0.0.1:\(port)"
              tls: {certificate: etc/tls/api.crt, key: etc/tls/api.key}
              rate_limit: {per_key_per_minute: 4, per_address_per_minute: 600}

            """)
        let added = try night.cli(["api-key", "add", "erp-scheduler", "--batches", "daily"])
        XCTAssertEqual(added.status, 0, added.stderr)
        let key = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let runner = try night.start(["run", "--at", "2026-11-23T10:00:00+08:00", "--speed", "1", "--until", "2026-11-23T12:00:00+08:00"],
                                     name: "runner")
        try night.waitUntil("the trigger listens") { runner.logText.contains("HTTP trigger listening") }
        XCTAssertTrue(runner.logText.contains("https://127.0.0.1:\(port)"), runner.logText)
        let cert = "\(night.project.root)/etc/tls/api.crt"

        // Clear text gets nothing; TLS with the pinned certificate gets the API.
        let plain = try runProcess(["curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/api/v1/batches/daily/runs/1"])
        XCTAssertEqual(plain.stdout, "000", "plain HTTP is not answered")
        let anonymous = try runProcess(["curl", "-s", "-m", "5", "--cacert", cert, "-o", "/dev/null", "-w", "%{http_code}",
                                        "https://127.0.0.1:\(port)/api/v1/batches/daily/runs/1"])
        XCTAssertEqual(anonymous.stdout, "401")

        // 200 hostile clients, then one valid call.
        let script = night.project.root + "/attack.py"
        try HTTPAttack.script.write(toFile: script, atomically: true, encoding: .utf8)
        let before = try processFigures(runner.pid)
        let started = Date()
        let attack = try runProcess(["/usr/bin/python3", script, "127.0.0.1", "\(port)", cert, key, "80", "40", "30", "25", "25"])
        let wall = Date().timeIntervalSince(started)
        let after = try processFigures(runner.pid)
        XCTAssertEqual(attack.status, 0, attack.stderr)
        let json = try XCTUnwrap(attack.stdout.split(separator: "\n").last)
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let valid = try XCTUnwrap(result["valid"] as? [String: Any])
        XCTAssertEqual(valid["status"] as? Int, 404, "the valid call reached the database: \(valid)")
        XCTAssertLessThan(try XCTUnwrap(valid["seconds"] as? Double), 1.0, "\(valid)")
        let slow = try XCTUnwrap(result["slow"] as? [Double]), silent = try XCTUnwrap(result["silent"] as? [Double])
        let promised = try XCTUnwrap(result["promised"] as? [Double])
        XCTAssertEqual(slow.count, 80)
        XCTAssertEqual(silent.count, 40)
        XCTAssertEqual(promised.count, 25)
        XCTAssertTrue((slow + silent + promised).allSatisfy { $0 >= 9 && $0 < 13.5 }, "cut off at the 10 s deadlines (TLS: plus at most 1 s for close_notify): \(slow) \(silent) \(promised)")
        let oversized = try XCTUnwrap(result["oversized"] as? [Int]), chunked = try XCTUnwrap(result["chunked"] as? [Int])
        XCTAssertTrue(oversized.count == 30 && oversized.allSatisfy { $0 < 1 << 20 }, "a 1 MiB request line is answered 400 and closed after its first 8 KiB: \(oversized)")
        XCTAssertTrue(chunked.count == 25 && chunked.allSatisfy { $0 < 1 << 20 }, "a 200 MB chunked body is answered 413 and closed after 16 KiB: \(chunked)")
        let cpu = after.cpuSeconds - before.cpuSeconds
        print("under attack for \(String(format: "%.1f", wall)) s: service CPU \(String(format: "%.2f", cpu)) s (\(String(format: "%.0f", 100 * cpu / wall))% of one core), RSS \(before.rssKiB / 1024) → peak \(after.peakKiB / 1024) MiB; valid call in \(valid["seconds"]!) s")
        XCTAssertLessThan(cpu / wall, 0.5, "the attack costs under half a core")
        XCTAssertLessThan(after.peakKiB - before.rssKiB, 100 * 1024, "and under 100 MiB")

        // Per key: 4 a minute, 2 at once (the valid call took one).
        var statuses: [String] = []
        for _ in 0..<3 {
            let answer = try runProcess(["curl", "-s", "-m", "5", "--cacert", cert, "-D", "-", "-o", "/dev/null", "-H", "Authorization: Bearer \(key)",
                                         "https://127.0.0.1:\(port)/api/v1/batches/daily/runs/1"])
            statuses.append(answer.stdout)
        }
        XCTAssertTrue(statuses[0].hasPrefix("HTTP/1.1 404"), statuses[0])
        XCTAssertTrue(statuses[2].hasPrefix("HTTP/1.1 429") && statuses[2].lowercased().contains("retry-after: "), statuses[2])
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.audit"), "0", "nothing from the attack reached the audit")

        // SIGTERM while slow clients hold connections: the service stops within its stop timeout.
        let holders = try ChildProcess(["/usr/bin/python3", script, "127.0.0.1", "\(port)", cert, key, "50", "20", "0", "0", "10"])
        Thread.sleep(forTimeInterval: 4)
        let term = Date()
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 20), 0, runner.logText)
        XCTAssertLessThan(Date().timeIntervalSince(term), 10, "stopped promptly")
        holders.kill(SIGKILL)
        _ = holders.wait(timeout: 10)
        XCTAssertEqual(runner.logText.components(separatedBy: "a call without a valid API key").count - 1, 1, "logged once a minute per address")
    }

    struct Figures {
        let cpuSeconds: Double
        let rssKiB: Int
        let peakKiB: Int
    }

    /// CPU time (user + system) and resident memory of a process, from /proc.
    func processFigures(_ pid: Int32) throws -> Figures {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.index(after: try XCTUnwrap(stat.lastIndex(of: ")")))...].split(separator: " ")
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func kib(_ name: String) -> Int {
            status.split(separator: "\n").first { $0.hasPrefix(name) }.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        }
        return Figures(cpuSeconds: ticks / Double(sysconf(Int32(_SC_CLK_TCK))), rssKiB: kib("VmRSS:"), peakKiB: kib("VmHWM:"))
    }
}
