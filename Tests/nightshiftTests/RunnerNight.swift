import Foundation
import PostgresClient
import TestSupport
import XCTest

/// A night for runner processes: a fresh database seeded through the CLI, a throwaway export
/// key, a project copy whose runner settings make leases short (3 s) and whose job SQL is slowed
/// down with pg_sleep, so that a test can stop or kill a runner in the middle of a job. The
/// results are compared with an uninterrupted run of the same night (`Fingerprint`).
final class RunnerNight {
    let database: TestDatabase
    let keyring: ThrowawayKeyring
    let project: ProjectCopy
    var processes: [RunnerProcess] = []
    static let at = "2026-11-23T01:59:50+08:00"
    static let occurrence = "2026-11-23T02:00:00+08:00"

    /// - Parameters:
    ///   - slow: sleeps per calculation chunk (0.25 s), per exported row and before customer_consumption.
    ///   - exportRowDelay: the sleep per exported row, in seconds.
    /// The last seeded business date (the daily occurrence of the next night processes it).
    let seededUntil: String

    /// - Parameter database: where the night runs (default: a fresh database on the test server).
    init(slow: Bool = true, exportRowDelay: Double = 0.002, seedUntil: String = "2026-11-22", database: TestDatabase? = nil) throws {
        seededUntil = seedUntil
        self.database = try database ?? TestDatabase()
        keyring = try ThrowawayKeyring()
        project = try ProjectCopy()
        try project.keepOnlyCoreJobs()
        try project.configure(keyring: keyring.home, recipient: keyring.email)
        var settings = try project.read("etc/nightshift.yaml")
        settings += """

            runner:
              lease_seconds: 3
              heartbeat_seconds: 1
              poll_milliseconds: 100
              stop_timeout_seconds: 5
            """
        try project.write("etc/nightshift.yaml", settings)
        let job = try project.read("jobs/delivery_charges.yaml")
        try project.write("jobs/delivery_charges.yaml", job.replacingOccurrences(of: "chunk_size: 1000", with: "chunk_size: 100"))
        if slow {
            let stage = try project.read("sql/jobs/delivery_charges/stage.sql")
            try project.write("sql/jobs/delivery_charges/stage.sql", "SELECT pg_sleep(0.25);\n" + stage)
            let export = try project.read("sql/jobs/daily_delivery_export.sql")
            try project.write("sql/jobs/daily_delivery_export.sql", export.replacingOccurrences(
                of: "WHERE d.delivery_date = nightshift.business_date()",
                with: "WHERE d.delivery_date = nightshift.business_date() AND public.slowly(d.id)"))
            let consumption = try project.read("sql/jobs/customer_consumption.sql")
            try project.write("sql/jobs/customer_consumption.sql", "SELECT pg_sleep(1.5);\n" + consumption)
        }
        let seed = try cli(["seed", "--customers", "3000", "--days", "2", "--until", seedUntil])
        guard seed.status == 0 else { throw TestSetupError("seed failed: \(seed.stderr)") }
        let db = try self.database.connect()
        defer { db.close() }
        try db.execute("""
            CREATE FUNCTION public.slowly(id bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
            BEGIN PERFORM pg_sleep(\(exportRowDelay)); RETURN true; END $$
            """)
    }

    var environment: [String: String] { ["DATABASE_URL": database.url] }

    func cli(_ arguments: [String]) throws -> ProcessOutput {
        try runProcess([try nightshiftBinary()] + arguments + ["--root", project.root], environment: environment)
    }

    /// Starts `nightshift run …` in the background.
    func start(_ arguments: [String], name: String, extraEnvironment: [String: String] = [:]) throws -> RunnerProcess {
        let process = try RunnerProcess(arguments: [try nightshiftBinary()] + arguments + ["--root", project.root, "--log-level", "info"],
                                        environment: environment.merging(extraEnvironment) { $1 }, log: "\(project.root)/\(name).log")
        processes.append(process)
        return process
    }

    /// The service through a simulated night, fired by the schedule.
    func startService(name: String, speed: Int = 600, until: String = "2026-11-23T06:00:00+08:00") throws -> RunnerProcess {
        try start(["run", "--at", RunnerNight.at, "--speed", String(speed), "--until", until], name: name)
    }

    func connect() throws -> PostgresConnection { try database.connect() }

    func query(_ sql: String, _ parameters: [String?] = []) throws -> QueryResult {
        let db = try connect()
        defer { db.close() }
        return try db.execute(sql, parameters)
    }

    func scalar(_ sql: String, _ parameters: [String?] = []) throws -> String? { try query(sql, parameters).string(0, 0) }

    /// Polls until `condition` holds (checked every `every` seconds, 20 ms unless asked), or fails
    /// the test after `timeout` s.
    func waitUntil(_ what: String, timeout: TimeInterval = 60, every: TimeInterval = 0.02, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? condition()) == true { return }
            Thread.sleep(forTimeInterval: every)
        }
        throw TestSetupError("timed out after \(Int(timeout)) s waiting until \(what); logs:\n" + processes.map(\.logText).joined(separator: "\n---\n"))
    }

    func jobState(_ job: String) throws -> String? {
        try scalar("SELECT state FROM nightshift.job_runs WHERE job = $1 ORDER BY id DESC LIMIT 1", [job])
    }

    /// The runner process holding `job`'s lease.
    func holder(of job: String) throws -> RunnerProcess? {
        guard let owner = try scalar("SELECT lease_owner FROM nightshift.job_runs WHERE job = $1 AND state = 'running'", [job]) else { return nil }
        return processes.first { owner.contains(":\($0.pid):") }
    }

    /// The plain-text part of the one summary message in the outbox, decoded from base64.
    func summaryPlainText(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let outbox = "\(project.root)/var/outbox"
        let mail = try FileManager.default.contentsOfDirectory(atPath: outbox).filter { $0.hasSuffix(".eml") }
        XCTAssertEqual(mail.count, 1, file: file, line: line)
        let lines = try String(contentsOfFile: "\(outbox)/\(mail[0])", encoding: .utf8).components(separatedBy: "\r\n")
        let part = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("Content-Type: text/plain") })
        let body = try XCTUnwrap(lines[part...].firstIndex(of: ""))
        let encoded = lines[(body + 1)...].prefix { !$0.hasPrefix("--") }.joined()
        return String(decoding: Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) ?? Data(), as: UTF8.self)
    }

    func exportFiles() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: "\(project.root)/var/exports"))?.sorted() ?? []
    }

    func tearDown() {
        for process in processes { process.kill(SIGKILL) }
        database.drop()
        keyring.remove()
        project.cleanup()
    }
}

/// Every job run ended `succeeded` exactly once, nothing is left running, nothing staged.
func assertCleanNight(_ night: RunnerNight, file: StaticString = #filePath, line: UInt = #line) throws {
    XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.batch_runs"), "1", "one occurrence", file: file, line: line)
    XCTAssertEqual(try night.scalar("SELECT string_agg(state, ',') FROM nightshift.batch_runs"), "succeeded", file: file, line: line)
    let successes = try night.query("""
        SELECT j.job, count(t.id) FILTER (WHERE t.to_state = 'succeeded') AS n FROM nightshift.job_runs j
        LEFT JOIN nightshift.state_transitions t ON t.job_run_id = j.id GROUP BY j.job ORDER BY j.job
        """)
    XCTAssertEqual((0..<successes.rowCount).map { "\(successes.string($0, "job")!)=\(successes.string($0, "n")!)" },
                   ["customer_consumption=1", "daily_delivery_export=1", "daily_sales_summary=1", "delivery_charges=1"],
                   "each job succeeded exactly once", file: file, line: line)
    XCTAssertEqual(try night.scalar("SELECT count(*) FROM nightshift.job_runs WHERE state <> 'succeeded'"), "0", file: file, line: line)
    let delivered = try night.scalar("SELECT count(*) FROM erp.deliveries WHERE delivery_date = '2026-11-22' AND status = 'delivered'")
    XCTAssertEqual(try night.scalar("SELECT rows_done::text FROM nightshift.checkpoints WHERE job = 'delivery_charges'"), delivered,
                   "the checkpoint counts each record once", file: file, line: line)
    XCTAssertEqual(try night.scalar("SELECT rows_processed::text FROM nightshift.job_runs WHERE job = 'delivery_charges'"), delivered,
                   file: file, line: line)
    XCTAssertEqual(night.exportFiles(), ["deliveries-2026-11-22-0001.zip.gpg", "deliveries-2026-11-22.manifest.json"],
                   "no .partial or staged file is left", file: file, line: line)
    XCTAssertNotNil(try night.scalar("SELECT summary_at FROM nightshift.batch_runs"), "the summary is written", file: file, line: line)
    XCTAssertEqual(try Fingerprint(night), try Fingerprint.reference(), "results equal an uninterrupted run", file: file, line: line)
}

/// What must be equal between an interrupted night and an uninterrupted one: the result tables,
/// the decrypted export (zip bytes: names, times and CSV content) and the manifest's entries.
struct Fingerprint: Equatable, CustomStringConvertible {
    let sales: String
    let charges: String
    let consumption: String
    let zipSHA256: String
    let manifestFiles: String

    init(_ night: RunnerNight) throws {
        sales = try night.scalar("SELECT md5(string_agg(s::text, '|' ORDER BY business_date, branch_id, product_id)) FROM erp.daily_sales_summary s") ?? ""
        charges = try night.scalar("""
            SELECT md5(string_agg((delivery_id, gross, vat, net, deposit_due, driver_commission)::text, '|' ORDER BY delivery_id))
            FROM erp.delivery_charges
            """) ?? ""
        consumption = try night.scalar("""
            SELECT md5(string_agg((customer_id, as_of, deliveries_30d, kilograms_30d, last_delivery, next_expected)::text, '|' ORDER BY customer_id))
            FROM erp.customer_consumption
            """) ?? ""
        // The manifest describes the archives that are there (ExportOnDisk checks every SHA-256).
        let work = "\(night.project.root)/decrypted"
        let export = try ExportOnDisk(directory: "\(night.project.root)/var/exports", base: "deliveries-2026-11-22",
                                      keyring: night.keyring, work: work)
        zipSHA256 = export.plaintextArchiveSHA256.joined(separator: ",")
        let files = (export.manifest["archives"] as? [[String: Any]] ?? []).map { $0["files"] ?? [] }
        manifestFiles = String(decoding: try JSONSerialization.data(withJSONObject: files, options: [.sortedKeys]), as: UTF8.self)
        try? FileManager.default.removeItem(atPath: work)
    }

    var description: String { "sales \(sales), charges \(charges), consumption \(consumption), zip \(zipSHA256), files \(manifestFiles)" }

    /// The same night, run by one runner with nothing in its way (computed once per test process).
    nonisolated(unsafe) static var cachedReference: Fingerprint?
    static func reference() throws -> Fingerprint {
        if let cachedReference { return cachedReference }
        let night = try RunnerNight(slow: false)
        defer { night.tearDown() }
        let run = try night.cli(["run", "--once", "--at", RunnerNight.occurrence])
        guard run.status == 0 else { throw TestSetupError("reference run failed: \(run.stdout) \(run.stderr)") }
        let reference = try Fingerprint(night)
        cachedReference = reference
        return reference
    }
}

/// A `nightshift run` in the background, its output in a log file.
final class RunnerProcess {
    let child: ChildProcess
    let log: String

    init(arguments: [String], environment: [String: String], log: String) throws {
        self.log = log
        let fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TestSetupError("cannot create \(log)") }
        defer { close(fd) }
        child = try ChildProcess(arguments, environment: environment, stdout: fd, stderr: fd)
    }

    var pid: Int32 { child.pid }
    var logText: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    func kill(_ signal: Int32) { child.kill(signal) }

    /// Waits for the exit and returns the status (128 + signal when a signal ended it; nil after `timeout`).
    func wait(timeout: TimeInterval = 60) -> Int32? { child.wait(timeout: timeout) }
}
