import Foundation
import TestSupport
import XCTest

final class CommandLineTests: CommandLineTestCase {
    func testCheckReportsABrokenJobFileAndExitsNonZero() throws {
        try project.write("jobs/delivery_charges.yaml", """
            name: delivery_charges
            kind: calculation
            batch: daily
            priority: urgent
            calculation:
              staging: jobs/delivery_charges/staging.sql
              stage: jobs/delivery_charges/stage.sql
              apply: jobs/delivery_charges/apply.sql
              key: delivery_id
              chunk_sise: 1000
            """)
        let keyring = try ThrowawayKeyring(email: "exports@luckygas.example")
        defer { keyring.remove() }
        try project.configure(keyring: keyring.home, recipient: keyring.email)
        let output = try nightshift(["check"])
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stdout.contains("error: jobs/delivery_charges.yaml:4: priority: `urgent` is not P1, P2, P3 or P4. Fix: write `priority: P3`"), output.stdout)
        XCTAssertTrue(output.stdout.contains("error: jobs/delivery_charges.yaml:10: calculation.chunk_sise: unknown key. Fix: did you mean `chunk_size`?"), output.stdout)
        XCTAssertTrue(output.stdout.contains("2 problems found"), output.stdout)
    }

    func testCheckPassesAndShowsTheOrderWhenTheRecipientKeyExists() throws {
        let keyring = try ThrowawayKeyring(email: "exports@luckygas.example")
        defer { keyring.remove() }
        try project.configure(keyring: keyring.home, recipient: keyring.email)
        let output = try nightshift(["check"])
        XCTAssertEqual(output.status, 0, output.stdout + output.stderr)
        XCTAssertTrue(output.stdout.contains("daily: daily_sales_summary → delivery_charges → daily_delivery_export → customer_consumption"), output.stdout)
    }

    func testCheckReportsAMissingRecipientKey() throws {
        let keyring = try ThrowawayKeyring(email: "someone-else@luckygas.test")
        defer { keyring.remove() }
        try project.configure(keyring: keyring.home, recipient: "exports@luckygas.example")
        let output = try nightshift(["check"])
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stdout.contains("no public key for recipient exports@luckygas.example"), output.stdout)
        XCTAssertTrue(output.stdout.contains("--import"), output.stdout)
    }

    func testCheckReportsABrokenConsoleTemplate() throws {
        let keyring = try ThrowawayKeyring(email: "exports@luckygas.example")
        defer { keyring.remove() }
        try project.configure(keyring: keyring.home, recipient: "exports@luckygas.example", maxConnections: 13)
        let settings = try project.read("etc/nightshift.yaml")
        try project.write("etc/nightshift.yaml", settings + "\nconsole:\n  listen: \"127.0.0.1:8480\"\n")
        try project.write("templates/console/tonight.mustache", "{{#batches}} never closed")
        let output = try nightshift(["check"])
        XCTAssertEqual(output.status, 1, output.stdout)
        XCTAssertTrue(output.stdout.contains("console template \(project.root)/templates/console/tonight.mustache:"), output.stdout)
        try project.write("templates/console/tonight.mustache", try String(contentsOfFile: "\(repositoryRoot())/templates/console/tonight.mustache", encoding: .utf8))
        XCTAssertEqual(try nightshift(["check"]).status, 0)
        try project.remove("templates/console/console.css")
        XCTAssertTrue(try nightshift(["check"]).stdout.contains("templates/console/console.css: cannot be read"))
    }

    func testCheckReportsAMissingKeyOfACustomerDataReport() throws {
        let keyring = try ThrowawayKeyring(email: "exports@luckygas.example")
        defer { keyring.remove() }
        try project.configure(keyring: keyring.home, recipient: keyring.email)
        let job = try String(contentsOfFile: "\(repositoryRoot())/jobs/delivery_register.yaml", encoding: .utf8)
        try project.write("jobs/delivery_register.yaml", job.replacingOccurrences(of: "  customer_data: true", with: "  customer_data: true\n  recipients: [statements@luckygas.test]"))
        let output = try nightshift(["check"])
        XCTAssertEqual(output.status, 1, output.stdout)
        XCTAssertTrue(output.stdout.contains("jobs/delivery_register.yaml: report.recipients (statements@luckygas.test): ") && output.stdout.contains("no public key for recipient statements@luckygas.test"), output.stdout)
    }

    func testRunRefusesInvalidConfigurationWithExitTwo() throws {
        try project.write("etc/nightshift.yaml", "timezone: Asia/Taipei\nbogus: 1\n")
        let output = try nightshift(["run", "--once", "--at", "2026-11-23T02:00:00+08:00"])
        XCTAssertEqual(output.status, 2, output.stderr)
        XCTAssertTrue(output.stderr.contains("etc/nightshift.yaml:2: bogus: unknown key"), output.stderr)
    }

    func testRunExplainsBadArguments() throws {
        let rerunAlone = try nightshift(["run", "--rerun"])
        XCTAssertNotEqual(rerunAlone.status, 0)
        XCTAssertTrue(rerunAlone.stderr.contains("--batch and --rerun go with --once"), rerunAlone.stderr)
        let backwards = try nightshift(["run", "--at", "2026-11-23T02:00:00+08:00", "--until", "2026-11-23T01:00:00+08:00"])
        XCTAssertNotEqual(backwards.status, 0)
        XCTAssertTrue(backwards.stderr.contains("must be later than --at"), backwards.stderr)
        let stopped = try nightshift(["run", "--speed", "0"])
        XCTAssertTrue(stopped.stderr.contains("--speed 0.0 must be greater than 0"), stopped.stderr)
        let badInstant = try nightshift(["run", "--once", "--at", "tomorrow"])
        XCTAssertTrue(badInstant.stderr.contains("--at tomorrow is not an ISO 8601 instant"), badInstant.stderr)
    }

    func testRunOnceMigratesRunsAndExitsNonZeroWhenAJobFails() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let keyring = try ThrowawayKeyring()
        defer { keyring.remove() }
        try project.configure(keyring: keyring.home, recipient: keyring.email)
        let env = ["DATABASE_URL": database.url]
        let seed = try nightshift(["seed", "--customers", "300", "--days", "2", "--until", "2026-11-22"], environment: env)
        XCTAssertEqual(seed.status, 0, seed.stderr)
        XCTAssertTrue(seed.stdout.contains("seeded 2 days up to 2026-11-22 (seed 42)"), seed.stdout)

        let good = try nightshift(["run", "--once", "--at", "2026-11-23T02:00:00+08:00"], environment: env)
        XCTAssertEqual(good.status, 0, good.stdout + good.stderr)
        XCTAssertTrue(good.stdout.contains("daily batch for 2026-11-22 (run #1, scheduled 2026-11-23T02:00:00+08:00): SUCCEEDED"), good.stdout)
        XCTAssertTrue(good.stdout.contains("summary message: \(project.root)/var/outbox/daily-2026-11-22-run1.eml"), good.stdout)
        XCTAssertEqual(try nightshift(["migrate"], environment: env).stdout, "runner schema is up to date\n")

        // The same occurrence again: it already ran, so nothing runs unless --rerun says so.
        let again = try nightshift(["run", "--once", "--at", "2026-11-23T02:00:00+08:00"], environment: env)
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
        XCTAssertTrue(again.stdout.contains("this occurrence already ran (run #1, run number 1): nothing was run; pass --rerun"), again.stdout)
        XCTAssertEqual(try database.connect().execute("SELECT count(*) FROM nightshift.batch_runs").int(0, 0), 1)

        try project.write("sql/jobs/delivery_charges/stage.sql", "INSERT INTO {{staging}} SELECT * FROM erp.no_such_table")
        let bad = try nightshift(["run", "--once", "--rerun", "--at", "2026-11-23T02:00:00+08:00"], environment: env)
        XCTAssertEqual(bad.status, 1, bad.stdout + bad.stderr)
        XCTAssertTrue(bad.stdout.contains("daily batch for 2026-11-22 (run #2, scheduled 2026-11-23T02:00:00+08:00): FAILED"), bad.stdout)
        XCTAssertTrue(bad.stdout.contains("[SQLSTATE 42P01]"), bad.stdout)
        XCTAssertTrue(bad.stdout.contains("skipped: dependency delivery_charges failed"), bad.stdout)
    }
}
