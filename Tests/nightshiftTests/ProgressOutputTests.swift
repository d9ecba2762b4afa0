import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// What a person sees while work runs: on a terminal (a real pty, from util-linux `script`) live
/// lines redrawn in place, in colour unless NO_COLOR; piped, one plain line per state change and
/// no escape codes; and JSON log lines for log collectors.
final class ProgressOutputTests: XCTestCase {
    var night: RunnerNight!

    override func setUpWithError() throws { night = try RunnerNight(slow: true) }
    override func tearDown() { night?.tearDown() }

    private var escape: String { "\u{1B}[" }

    func testPipedOutputIsOneLinePerChangeWithoutEscapes() throws {
        let result = try night.cli(["run", "--once", "--at", RunnerNight.occurrence, "--log-level", "warning"])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertFalse(result.stdout.contains(escape), "no escape codes when piped")
        let lines = result.stdout.components(separatedBy: "\n")
        for job in ["daily_sales_summary", "delivery_charges", "daily_delivery_export", "customer_consumption"] {
            XCTAssertEqual(lines.filter { $0.contains("▶ \(job) [") && $0.hasSuffix("started") }.count, 1, job)
            XCTAssertEqual(lines.filter { $0.contains("✓ \(job) [") && $0.contains("succeeded: ") }.count, 1, job)
        }
        let rows = try night.scalar("SELECT rows_processed FROM nightshift.job_runs WHERE job = 'delivery_charges'")!
        let digits = Array(rows)
        let formatted = String(digits.enumerated().flatMap { i, c in (i > 0 && (digits.count - i) % 3 == 0 ? [","] : []) + [c] })
        XCTAssertTrue(lines.contains { $0.contains("✓ delivery_charges [P3] succeeded: \(formatted) rows in ") }, result.stdout)
        XCTAssertFalse(result.stdout.contains("rows/s"), "no live lines when piped")
    }

    func testATerminalGetsLiveLinesRedrawnInPlaceAndNoColourWithNO_COLOR() throws {
        // A first run gives delivery_charges a history: the second shows rows / ~total, % and ETA.
        XCTAssertEqual(try night.cli(["run", "--once", "--at", RunnerNight.occurrence]).status, 0)
        for noColor in [false, true] {
            let command = ([try nightshiftBinary(), "run", "--once", "--rerun", "--at", RunnerNight.occurrence, "--root", night.project.root,
                            "--log-level", "warning"]).map { "'\($0)'" }.joined(separator: " ")
            var environment = night.environment
            environment["TERM"] = "xterm"
            environment["NO_COLOR"] = noColor ? "1" : "" // empty counts as unset (no-color.org)
            let output = try runProcess(["script", "-q", "-e", "-c", command, "/dev/null"], environment: environment)
            XCTAssertEqual(output.status, 0, output.stdout + output.stderr)
            let text = output.stdout
            // A live line of the running calculation: rows of the expected total, percent, rate, ETA.
            let live = text.components(separatedBy: CharacterSet(charactersIn: "\r\n")).filter { $0.contains("delivery_charges [P3] ") && $0.contains(" rows/s") }
            XCTAssertFalse(live.isEmpty, text)
            XCTAssertTrue(live.contains { $0.contains("/ ~") && $0.contains("%") && $0.contains("ETA") }, "\(live)")
            // Redrawn in place: cursor up to the block and clear, never a scrolling stream of copies.
            XCTAssertTrue(text.contains("\(escape)1F\(escape)0J"), "the live block is erased and redrawn")
            XCTAssertTrue(text.contains("✓\(noColor ? "" : "\(escape)0m") delivery_charges [P3] succeeded"), text)
            XCTAssertEqual(text.contains("\(escape)32m"), !noColor, "colour unless NO_COLOR")
        }
    }

    func testStatusWatchPipedPrintsChangesAndJSONLogsParse() throws {
        let watch = try night.start(["status", "--watch", "--interval", "0.25"], name: "watch")
        let runner = try night.start(["run", "--at", RunnerNight.at, "--speed", "60", "--until", "2026-11-23T02:20:00+08:00",
                                      "--log-format", "json"], name: "json")
        XCTAssertEqual(runner.wait(timeout: 120), 0, runner.logText)
        try night.waitUntil("the watch saw the last job end") { watch.logText.contains("✓ customer_consumption [P4] succeeded") }
        watch.kill(SIGTERM)
        XCTAssertEqual(watch.wait(timeout: 10), 0)
        let seen = watch.logText
        XCTAssertFalse(seen.contains(escape), seen)
        for job in ["daily_sales_summary", "delivery_charges", "daily_delivery_export", "customer_consumption"] {
            XCTAssertTrue(seen.contains("▶ \(job) [") && seen.contains("✓ \(job) ["), "\(job): \(seen)")
        }
        // Every log line of the runner is one JSON object with time, level, logger and message.
        let lines = runner.logText.split(separator: "\n").filter { $0.hasPrefix("{") }
        XCTAssertGreaterThan(lines.count, 5, runner.logText)
        for line in lines {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], String(line))
            XCTAssertNotNil(object["time"].flatMap(parseFractionalInstant), String(line))
            XCTAssertTrue(["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(object["level"] ?? ""), String(line))
            XCTAssertEqual(object["logger"], "nightshift")
            XCTAssertFalse(object["message"]?.isEmpty ?? true)
        }
        XCTAssertTrue(lines.contains { $0.contains("\"message\":\"batch closed\"") && $0.contains("\"batch_run\":\"1\"") }, runner.logText)
    }
}

private func parseFractionalInstant(_ text: String) -> Date? {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text)
}
