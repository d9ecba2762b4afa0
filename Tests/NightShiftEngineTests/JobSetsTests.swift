import Foundation
import NightShiftCore
import NightShiftEngine
import TestSupport
import XCTest

/// Every batch has real work: the weekly trends, the month-end close with its reports, statements
/// and signed tax file, and the year-end consolidation, each checked against figures computed
/// here independently from the seeded ERP rows.
final class JobSetsTests: XCTestCase {
    var night: NightFixture!
    static func instant(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    override func setUpWithError() throws {
        night = try NightFixture(customers: 600, days: 75, until: "2026-12-31")
        // The month is taken as closed: the hold for the close event has tests of its own.
        let settings = try night.project.read("etc/nightshift.yaml")
        try night.project.write("etc/nightshift.yaml", settings + "\nmonth_end_close:\n  wait: false\n")
    }

    override func tearDown() { night?.tearDown() }

    func states(_ report: BatchReport) -> [String] {
        report.jobs.map { "\($0.job.name)=\($0.state.rawValue)\($0.failure.map { " \($0)" } ?? "")" }
    }

    func testWeeklyMonthlyAndYearEndBatchesProduceReconciledFigures() throws {
        // Weekly: Sunday 6 December 01:00 → the week 29 November – 5 December.
        let weekly = try night.run(.weekly, at: Self.instant("2026-12-06T01:00:00+08:00"))
        XCTAssertEqual(Set(states(weekly)), Set(["weekly_trends=succeeded", "weekly_trend_report=succeeded", "archive_import_staging=succeeded",
                                                 "archive_old_deliveries=succeeded", "archive_system_log=succeeded"]))
        // The archive jobs left only what retention keeps: unpaid old deliveries (receivables), the
        // log's last 90 days, the staging rows' last 7; the catalog holds what left.
        XCTAssertEqual(try night.scalar("""
            SELECT count(*) FROM erp.deliveries d WHERE delivery_date < '2024-12-05'
              AND (status = 'failed' OR EXISTS (SELECT 1 FROM erp.payments p WHERE p.delivery_id = d.id))
            """), "0")
        XCTAssertGreaterThan(Int(try night.scalar("SELECT count(*) FROM erp.deliveries WHERE delivery_date < '2024-12-05'") ?? "0") ?? 0, 0)
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM erp.system_log WHERE logged_at < '2026-09-06T00:00:00+08:00'"), "0")
        XCTAssertEqual(try night.scalar("SELECT count(*) FROM erp.import_staging WHERE loaded_at < '2026-11-28T00:00:00+08:00'"), "0")
        XCTAssertGreaterThan(Int(try night.scalar("SELECT sum(rows) FROM nightshift.archive_catalog WHERE source_table = 'erp.system_log'") ?? "0") ?? 0, 0)
        let week = try night.db.execute("""
            SELECT t.branch_id, t.revenue = x.revenue AND t.deliveries = x.n AS same, t.revenue_prev = y.revenue AS prev_same
            FROM erp.weekly_trends t
            JOIN (SELECT branch_id, sum(amount) AS revenue, count(*) AS n FROM erp.deliveries
                  WHERE delivery_date BETWEEN '2026-11-29' AND '2026-12-05' AND status = 'delivered' GROUP BY 1) x USING (branch_id)
            JOIN (SELECT branch_id, sum(amount) AS revenue FROM erp.deliveries
                  WHERE delivery_date BETWEEN '2026-11-22' AND '2026-11-28' AND status = 'delivered' GROUP BY 1) y USING (branch_id)
            WHERE t.week_start = '2026-11-29'
            """)
        XCTAssertEqual(week.rowCount, 6)
        XCTAssertEqual((0..<6).map { week.bool($0, "same")! && week.bool($0, "prev_same")! }, Array(repeating: true, count: 6))
        let html = try String(contentsOfFile: "\(night.project.root)/var/reports/weekly_trend_report/weekly-trends-2026-12-05.html", encoding: .utf8)
        XCTAssertTrue(html.contains("台北營業所"), html)

        // Monthly: 1 December 00:00 → November. Two November days already have a daily summary
        // (the incremental path), the other 28 come from the deliveries.
        for day in ["2026-11-21T02:00:00+08:00", "2026-11-22T02:00:00+08:00"] {
            XCTAssertEqual(try night.run(.daily, at: Self.instant(day)).state, .succeeded)
        }
        let monthly = try night.run(.monthly, at: Self.instant("2026-12-01T00:00:00+08:00"))
        XCTAssertEqual(Set(states(monthly)), Set(["monthly_sales=succeeded", "receivables_aging=succeeded", "monthly_close=succeeded",
                                                  "monthly_revenue_report=succeeded", "customer_statements=succeeded",
                                                  "vat_declaration_export=succeeded"]))
        let order = monthly.jobs.map(\.job.name)
        XCTAssertLessThan(order.firstIndex(of: "monthly_close")!, order.firstIndex(of: "vat_declaration_export")!, "validation before export")
        XCTAssertLessThan(order.firstIndex(of: "monthly_sales")!, order.firstIndex(of: "monthly_revenue_report")!, "aggregation before reporting")
        XCTAssertEqual(try night.scalar("SELECT sum(revenue) FROM erp.monthly_sales WHERE month = '2026-11-01'"),
                       try night.scalar("SELECT sum(amount) FROM erp.deliveries WHERE delivery_date BETWEEN '2026-11-01' AND '2026-11-30' AND status = 'delivered'"))
        // Receivables: every unpaid credit invoice up to 30 November, by age.
        XCTAssertEqual(try night.scalar("SELECT sum(total) FROM erp.receivables_aging WHERE as_of = '2026-11-30'"),
                       try night.scalar("""
                           SELECT sum(i.amount) FROM erp.invoices i WHERE i.issued_on <= '2026-11-30'
                           AND NOT EXISTS (SELECT 1 FROM erp.payments p WHERE p.delivery_id = i.delivery_id AND p.paid_at < '2026-12-01T00:00:00+08:00')
                           """))
        // Over 90 days: only the old deliveries the archive kept because they are unpaid.
        XCTAssertEqual(try night.scalar("SELECT sum(over_90) FROM erp.receivables_aging WHERE as_of = '2026-11-30'"),
                       try night.scalar("""
                           SELECT sum(i.amount) FROM erp.invoices i WHERE i.issued_on < date '2026-11-30' - 90
                           AND NOT EXISTS (SELECT 1 FROM erp.payments p WHERE p.delivery_id = i.delivery_id)
                           """))
        XCTAssertGreaterThan(Double(try night.scalar("SELECT sum(days_31_60) FROM erp.receivables_aging WHERE as_of = '2026-11-30'") ?? "0") ?? 0, 0)
        let close = try night.db.execute("SELECT revenue = invoiced AS reconciled, receivables > 0 AS owed FROM erp.monthly_close WHERE month = '2026-11-01'")
        XCTAssertEqual(close.bool(0, "reconciled"), true)
        XCTAssertEqual(close.bool(0, "owed"), true)

        // The signed tax file: every November invoice once, signature good (ExportOnDisk verifies).
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let vat = try ExportOnDisk(directory: "\(night.project.root)/var/exports", base: "vat-invoices-2026-11-30", keyring: night.keyring, work: work.path)
        XCTAssertEqual(vat.manifest["signed_by"] as? String, try night.keyring.fingerprint())
        XCTAssertEqual(vat.rows, try night.count("SELECT count(*) FROM erp.invoices WHERE issued_on BETWEEN '2026-11-01' AND '2026-11-30'"))

        // The ledger file's control total is the month's revenue.
        let ledger = try Data(contentsOf: URL(fileURLWithPath: "\(night.project.root)/var/reports/monthly_revenue_report/revenue-2026-11-30-big5.txt"))
        let trailer = String(decoding: ledger.split(separator: 0x0A).last!, as: UTF8.self)
        XCTAssertTrue(trailer.hasPrefix("T"), trailer)
        let revenue = try night.scalar("SELECT sum(revenue) FROM erp.monthly_sales WHERE month = '2026-11-01'")!
        XCTAssertEqual(String(trailer.dropFirst(11).prefix(18)).drop { $0 == "0" }, Substring(revenue))

        // A month whose invoices do not match its deliveries does not close: nothing is filed.
        try night.db.execute("DELETE FROM erp.invoices WHERE id = (SELECT min(id) FROM erp.invoices WHERE issued_on = '2026-11-10')")
        let broken = try night.run(.monthly, at: Self.instant("2026-12-01T00:00:00+08:00"))
        let byName = Dictionary(uniqueKeysWithValues: broken.jobs.map { ($0.job.name, $0) })
        XCTAssertEqual(byName["monthly_close"]?.state, .failed)
        XCTAssertEqual(byName["monthly_close"]?.failure?.sqlState, "23514")
        XCTAssertTrue(byName["monthly_close"]?.failure?.message.contains("do not match its uniform invoices") == true, "\(String(describing: byName["monthly_close"]?.failure))")
        XCTAssertEqual(byName["vat_declaration_export"]?.state, .skipped)

        // Year-end: 31 December 22:00. November comes from monthly_sales, the rest from the deliveries.
        let yearend = try night.run(.yearend, at: Self.instant("2026-12-31T22:00:00+08:00"))
        XCTAssertEqual(states(yearend), ["yearly_sales=succeeded", "yearly_consolidation_report=succeeded"])
        XCTAssertEqual(try night.scalar("SELECT sum(revenue) FROM erp.yearly_sales WHERE year = 2026"),
                       try night.scalar("SELECT sum(amount) FROM erp.deliveries WHERE delivery_date BETWEEN '2026-01-01' AND '2026-12-31' AND status = 'delivered'"))
    }

    func testDailyAggregationsAreIdempotentAndTheInventoryReconciles() throws {
        let first = try night.run(.daily, at: Self.instant("2026-12-16T02:00:00+08:00"))
        XCTAssertEqual(first.state, .succeeded, "\(states(first))")
        let second = try night.run(.daily, at: Self.instant("2026-12-17T02:00:00+08:00"))
        XCTAssertEqual(second.state, .succeeded, "\(states(second))")
        // The second day's inventory was built incrementally from the first's; both agree with a recount.
        let recount = """
            SELECT count(*) FROM erp.cylinder_inventory i
            LEFT JOIN (SELECT d.branch_id, m.product_id, sum(CASE m.direction WHEN 'out' THEN m.quantity ELSE -m.quantity END) AS n
                       FROM erp.deliveries d JOIN erp.cylinder_movements m ON m.delivery_id = d.id
                       WHERE d.delivery_date <= $1::date GROUP BY 1, 2) r USING (branch_id, product_id)
            WHERE i.business_date = $1::date AND i.at_customers IS DISTINCT FROM r.n
            """
        XCTAssertEqual(try night.count(recount, ["2026-12-15"]), 0)
        XCTAssertEqual(try night.count(recount, ["2026-12-16"]), 0)
        let csv = try String(contentsOfFile: "\(night.project.root)/var/reports/cylinder_reconciliation/cylinder-reconciliation-2026-12-16.csv", encoding: .utf8)
        let differences = csv.split(separator: "\r\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false)[7] }
        XCTAssertFalse(differences.isEmpty)
        XCTAssertEqual(Set(differences), ["0"])
        // Hourly figures add up to the day, and a rerun of the day changes nothing.
        let hourly = "SELECT sum(revenue)::text || '/' || count(*) FROM erp.hourly_deliveries WHERE business_date = '2026-12-16'"
        let before = try night.scalar(hourly)
        XCTAssertEqual(before?.split(separator: "/").first.map(String.init),
                       try night.scalar("SELECT sum(amount)::text FROM erp.deliveries WHERE delivery_date = '2026-12-16' AND status = 'delivered'"))
        _ = try night.run(.daily, at: Self.instant("2026-12-17T02:00:00+08:00"))
        XCTAssertEqual(try night.scalar(hourly), before)
        XCTAssertEqual(try night.count(recount, ["2026-12-16"]), 0)
    }
}
