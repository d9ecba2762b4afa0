import Foundation
import TestSupport
import XCTest

final class PlanningCommandTests: CommandLineTestCase {
    func testCronPrintsFireInstantsAcrossADSTGap() throws {
        let output = try runProcess([try nightshiftBinary(), "cron", "30 2 * * *", "--zone", "America/New_York",
                                     "--from", "2027-03-13T00:00:00-05:00", "--count", "3"])
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertEqual(output.stdout, "2027-03-13T02:30:00-05:00\n2027-03-14T03:00:00-04:00\n2027-03-15T02:30:00-04:00\n")
        let bad = try runProcess([try nightshiftBinary(), "cron", "0 2 * * MONDAY"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("day-of-week field `MONDAY`: not a number or a name (SUN MON TUE WED THU FRI SAT)"), bad.stderr)
    }

    func testPlanJSONWithoutADatabaseUsesEstimates() throws {
        let env = ["DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"]
        let output = try nightshift(["plan", "--at", "2026-11-21T12:00:00+08:00", "--json"], environment: env)
        XCTAssertEqual(output.status, 0, output.stderr)
        let plan = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(plan["business_date"] as? String, "2026-11-20")
        XCTAssertEqual(plan["fits_window"] as? Bool, true)
        XCTAssertEqual(plan["late_best_effort"] as? [String], ["customer_consumption"])
        XCTAssertEqual(plan["next_scheduled_run"] as? String, "2026-11-22T02:00:00+08:00")
        let jobs = try XCTUnwrap(plan["jobs"] as? [[String: Any]])
        XCTAssertEqual(jobs.map { $0["name"] as? String }, ["daily_sales_summary", "delivery_charges", "daily_delivery_export", "customer_consumption"])
        XCTAssertEqual(jobs.map { $0["duration_source"] as? String }, ["estimate", "estimate", "estimate", "estimate"])
        let trend = try XCTUnwrap(jobs.last?["decision"] as? [String: Any])
        XCTAssertEqual(trend["verdict"] as? String, "allowed", "the decision at its start")
        XCTAssertEqual(trend["window"] as? String, "weekend_night")
        XCTAssertTrue((jobs.last?["waited"] as? String)?.hasPrefix("deferred until 2026-11-22T00:00:00+08:00") == true, "\(jobs.last!)")
        XCTAssertEqual(jobs.last?["start"] as? String, "2026-11-22T00:00:00+08:00")
        let warnings = try XCTUnwrap(plan["warnings"] as? [String])
        XCTAssertTrue(warnings.contains { $0.hasPrefix("database not reachable") }, "\(warnings)")
    }

    /// What-if: a held job does not run and blocks what waits on it; a delayed one starts later, and
    /// the comparison says what that does to the finish and the critical path.
    func testWhatIfHoldAndDelayShowTheNewForecastAndCriticalPath() throws {
        let env = ["DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"]
        let base = try nightshift(["plan", "--at", "2026-11-24T02:00:00+08:00", "--json"], environment: env)
        let before = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(base.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(before["critical_path"] as? [String], ["customer_consumption"])
        let held = try nightshift(["plan", "--at", "2026-11-24T02:00:00+08:00", "--json", "--hold", "delivery_charges",
                                   "--hold", "customer_consumption"], environment: env)
        XCTAssertEqual(held.status, 0, held.stderr)
        let plan = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(held.stdout.utf8)) as? [String: Any])
        let jobs = try XCTUnwrap(plan["jobs"] as? [[String: Any]])
        let byName = Dictionary(jobs.map { ($0["name"] as! String, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byName["delivery_charges"]?["blocked_reason"] as? String, "held (what-if)")
        XCTAssertEqual(byName["daily_delivery_export"]?["blocked_reason"] as? String, "dependency delivery_charges cannot start")
        XCTAssertEqual(plan["fits_window"] as? Bool, false)
        XCTAssertEqual(plan["critical_path"] as? [String], ["daily_sales_summary"])
        let whatIf = try XCTUnwrap(plan["what_if"] as? [String])
        XCTAssertEqual(whatIf.first, "What-if: delivery_charges held; customer_consumption held.")
        XCTAssertTrue(whatIf.contains("Critical path without the what-if: customer_consumption"), "\(whatIf)")
        XCTAssertTrue(whatIf.contains { $0.contains("DOES NOT FIT the window (it fitted without the what-if)") }, "\(whatIf)")

        let delayed = try nightshift(["plan", "--at", "2026-11-24T02:00:00+08:00", "--delay", "daily_sales_summary=45m"], environment: env)
        XCTAssertEqual(delayed.status, 0, delayed.stderr)
        let summary = try XCTUnwrap(delayed.stdout.split(separator: "\n").first { $0.contains(" daily_sales_summary ") })
        XCTAssertTrue(summary.contains("11-24 02:45"), String(summary))
        XCTAssertTrue(delayed.stdout.contains("What-if: daily_sales_summary starts 45 min later than planned."), delayed.stdout)
        XCTAssertTrue(delayed.stdout.contains(" later); fits the window."), delayed.stdout)

        let unknown = try nightshift(["plan", "--hold", "nope"], environment: env)
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("nope is not a job of the planned batch"), unknown.stderr)
        let bad = try nightshift(["plan", "--delay", "daily_sales_summary=soon"], environment: env)
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("--delay daily_sales_summary=soon is not job=duration"), bad.stderr)
    }

    func testPlanTableOnAHoliday() throws {
        let env = ["DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"]
        let output = try nightshift(["plan", "--at", "2026-10-09T10:00:00+08:00"], environment: env)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stdout.contains("(Fri, holiday: 國慶日補假 National Day (observed; 10 Oct is a Saturday))"), output.stdout)
        XCTAssertTrue(output.stdout.contains("allowed: holiday (00:00–24:00 on holidays) is optimal, which lets P4 start"), output.stdout)
        XCTAssertTrue(output.stdout.contains("fits the window"), output.stdout)
    }

    func testOverrideIsRecordedWithWhoAskedPlannedAndAppliedByTheRun() throws {
        let database = try TestDatabase()
        defer { database.drop() }
        let keyring = try ThrowawayKeyring()
        defer { keyring.remove() }
        try project.configure(keyring: keyring.home, recipient: keyring.email)
        let env = ["DATABASE_URL": database.url]
        let me = currentAccount() // who asks is the account, never a flag
        XCTAssertEqual(try nightshift(["seed", "--customers", "300", "--days", "2", "--until", "2026-11-22"], environment: env).status, 0)

        let missingReason = try nightshift(["override", "--date", "2026-11-22", "--job", "daily_delivery_export", "--skip"], environment: env)
        XCTAssertNotEqual(missingReason.status, 0)
        XCTAssertTrue(missingReason.stderr.contains("say why with --reason"), missingReason.stderr)
        let wrongDependency = try nightshift(["override", "--date", "2026-11-22", "--job", "daily_delivery_export", "--ignore-dependency",
                                              "customer_consumption", "--reason", "x"], environment: env)
        XCTAssertEqual(wrongDependency.status, 2)
        XCTAssertTrue(wrongDependency.stderr.contains("does not depend on customer_consumption"), wrongDependency.stderr)

        let recorded = try nightshift(["override", "--date", "2026-11-22", "--job", "daily_delivery_export", "--skip",
                                       "--reason", "bank is closed"], environment: env)
        XCTAssertEqual(recorded.status, 0, recorded.stderr)
        XCTAssertTrue(recorded.stdout.contains("daily_delivery_export skipped by \(me): bank is closed"), recorded.stdout)

        let plan = try nightshift(["plan", "--at", "2026-11-23T02:00:00+08:00"], environment: env)
        XCTAssertTrue(plan.stdout.contains("skipped by \(me): bank is closed"), plan.stdout)

        let run = try nightshift(["run", "--once", "--at", "2026-11-23T02:00:00+08:00"], environment: env)
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertTrue(run.stdout.contains("daily_delivery_export  P3    skipped"), run.stdout)
        XCTAssertTrue(run.stdout.contains("skipped: skipped by \(me): bank is closed"), run.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(project.root)/var/exports/deliveries-2026-11-22.manifest.json"))
        let db = try database.connect()
        defer { db.close() }
        XCTAssertEqual(try db.execute("SELECT count(*) AS n FROM nightshift.manual_overrides WHERE applied_to IS NOT NULL AND requested_by = $1", [me]).int(0, "n"), 1)
    }
}
