import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Prometheus metrics: `/metrics` of the running service scraped over HTTP, and the textfile of
/// `run --once`, both read by the text-format parser of `prometheus_client` (Debian's
/// python3-prometheus-client), and checked against the runner tables.
final class RunnerMetricsTests: XCTestCase {
    var night: RunnerNight!
    var port = 0

    override func setUpWithError() throws {
        night = try RunnerNight(slow: false)
        port = try freeLoopbackPort()
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings + """

            metrics:
              listen: "127.0.0.1:\(port)"
              textfile: var/metrics/nightshift.prom
            """)
    }

    override func tearDown() { night?.tearDown() }

    struct Sample: Decodable {
        let family: String
        let type: String
        let name: String
        let labels: [String: String]
        let value: Double
    }

    /// The exposition text parsed by prometheus_client; a malformed text fails the parser.
    private func parse(_ text: String) throws -> [Sample] {
        let result = try runProcess(["/usr/bin/python3", "-c", """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = []
            for family in text_string_to_metric_families(sys.stdin.read()):
                for s in family.samples:
                    out.append({"family": family.name, "type": family.type, "name": s.name, "labels": s.labels, "value": s.value})
            print(json.dumps(out))
            """], stdin: Data(text.utf8))
        XCTAssertEqual(result.status, 0, result.stderr)
        return try JSONDecoder().decode([Sample].self, from: Data(result.stdout.utf8))
    }

    private func value(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { sample in sample.name == name && labels.allSatisfy { key, value in sample.labels[key] == value } }?.value
    }

    func testTheServiceServesMetricsThatAgreeWithTheRunnerTables() throws {
        let runner = try night.start(["run", "--at", RunnerNight.at, "--speed", "60", "--until", "2026-11-23T02:40:00+08:00"], name: "metrics")
        try night.waitUntil("the batch ends") { try night.scalar("SELECT state FROM nightshift.batch_runs") == "succeeded" }
        // The gauges are sampled every 5 s; wait for a sample taken after the batch closed.
        Thread.sleep(forTimeInterval: 6)
        let scraped = try runProcess(["curl", "-sS", "-i", "http://127.0.0.1:\(port)/metrics"])
        XCTAssertEqual(scraped.status, 0, scraped.stderr)
        let parts = scraped.stdout.components(separatedBy: "\r\n\r\n")
        XCTAssertTrue(parts[0].hasPrefix("HTTP/1.1 200") && parts[0].lowercased().contains("content-type: text/plain; version=0.0.4"), parts[0])
        let samples = try parse(parts.dropFirst().joined(separator: "\r\n\r\n"))
        XCTAssertEqual(value(samples, "nightshift_batch_runs_total", ["batch": "daily", "state": "succeeded"]), 1)
        for job in ["daily_sales_summary", "delivery_charges", "daily_delivery_export", "customer_consumption"] {
            XCTAssertEqual(value(samples, "nightshift_job_attempts_total", ["job": job, "state": "succeeded"]), 1, job)
            let rows = Double(try night.scalar("SELECT rows_processed FROM nightshift.job_runs WHERE job = $1", [job]) ?? "0")!
            XCTAssertEqual(value(samples, "nightshift_rows_processed_total", ["job": job]) ?? 0, rows, job)
        }
        // Durations are histograms: cumulative buckets up to +Inf, which holds every observation.
        let buckets = samples.filter { $0.name == "nightshift_job_attempt_duration_seconds_bucket" && $0.labels["job"] == "delivery_charges" }
        XCTAssertGreaterThan(buckets.count, 5)
        XCTAssertEqual(buckets.first { $0.labels["le"] == "+Inf" }?.value, 1)
        XCTAssertEqual(samples.first { $0.family == "nightshift_job_attempt_duration_seconds" }?.type, "histogram")
        XCTAssertEqual(value(samples, "nightshift_batch_duration_seconds_count", ["batch": "daily"]), 1)
        // Gauges sampled from the database: nothing queued, running or paused any more.
        for priority in ["P1", "P2", "P3", "P4"] { XCTAssertEqual(value(samples, "nightshift_queue_depth", ["priority": priority]), 0, priority) }
        XCTAssertEqual(value(samples, "nightshift_jobs_running"), 0)
        XCTAssertEqual(value(samples, "nightshift_jobs_paused"), 0)
        XCTAssertNotNil(value(samples, "nightshift_outbox_messages", ["state": "queued"]))
        XCTAssertEqual(value(samples, "nightshift_checkpoint_age_seconds"), 0)
        XCTAssertEqual(try runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/other"]).stdout, "404")
        runner.kill(SIGTERM)
        XCTAssertEqual(runner.wait(timeout: 60), 0, runner.logText)
    }

    func testRunOnceWritesATextfileForNodeExporter() throws {
        let result = try night.cli(["run", "--once", "--at", RunnerNight.occurrence])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        let path = "\(night.project.root)/var/metrics/nightshift.prom"
        XCTAssertTrue(result.stdout.contains("metrics: \(path)"), result.stdout)
        let samples = try parse(try String(contentsOfFile: path, encoding: .utf8))
        XCTAssertEqual(value(samples, "nightshift_batch_runs_total", ["batch": "daily", "state": "succeeded"]), 1)
        XCTAssertEqual(value(samples, "nightshift_job_attempts_total", ["job": "delivery_charges", "state": "succeeded"]), 1)
        XCTAssertEqual(value(samples, "nightshift_queue_depth", ["priority": "P3"]), 0)
        // Written whole: no temporary file is left beside it.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(night.project.root)/var/metrics"), ["nightshift.prom"])
    }
}
