import NightShiftCore
import XCTest

final class OutputRetentionTests: XCTestCase {
    let today = LocalDate(iso: "2026-12-03")!

    func testDefaultsKeepExportsSevenYearsReportsOneYearAndArchivesForEver() {
        let retention = OutputRetention()
        XCTAssertEqual(retention.cutoff(job: "vat_declaration_export", kind: .export, today: today), LocalDate(iso: "2019-12-03"))
        XCTAssertEqual(retention.cutoff(job: "branch_sales_report", kind: .report, today: today), LocalDate(iso: "2025-12-03"))
        XCTAssertNil(retention.cutoff(job: "archive_old_deliveries", kind: .archive, today: today))
        XCTAssertEqual(OutputRetention(byKind: [.report: .age(RetentionAge(count: 1, unit: .years))]).cutoff(job: nil, kind: .report, today: LocalDate(iso: "2028-02-29")!),
                       LocalDate(iso: "2027-02-28"), "a leap day counts back to the month's last day")
    }

    func testAJobsOwnRetentionWinsOverItsKinds() {
        let retention = OutputRetention(byKind: [.report: .age(RetentionAge(count: 90, unit: .days))],
                                        byJob: ["yearly_consolidation_report": .forEver, "weekly_trend_report": .age(RetentionAge(count: 2, unit: .years))])
        XCTAssertNil(retention.cutoff(job: "yearly_consolidation_report", kind: .report, today: today))
        XCTAssertEqual(retention.cutoff(job: "weekly_trend_report", kind: .report, today: today), LocalDate(iso: "2024-12-03"))
        XCTAssertEqual(retention.cutoff(job: "branch_sales_report", kind: .report, today: today), LocalDate(iso: "2026-09-04"))
        XCTAssertEqual(retention.keep(job: nil, kind: .export), .age(RetentionAge(count: 7, unit: .years)))
    }

    func testExportsAreRegulatoryAndKeptAtLeastSevenYears() {
        XCTAssertNil(OutputRetention.problem(.forEver, kind: .export))
        XCTAssertNil(OutputRetention.problem(.age(RetentionAge(count: 84, unit: .months)), kind: .export))
        XCTAssertNil(OutputRetention.problem(.age(RetentionAge(count: 2557, unit: .days)), kind: .export), "7 years of days, leap days counted")
        XCTAssertEqual(OutputRetention.problem(.age(RetentionAge(count: 6, unit: .years)), kind: .export),
                       "exports are regulatory records and are kept at least 7 years, not 6 years")
        XCTAssertNotNil(OutputRetention.problem(.age(RetentionAge(count: 2550, unit: .days)), kind: .export))
        XCTAssertNil(OutputRetention.problem(.age(RetentionAge(count: 30, unit: .days)), kind: .report))
        XCTAssertEqual(OutputRetention.Keep(text: "never"), .forEver)
        XCTAssertEqual(OutputRetention.Keep(text: "10 years"), .age(RetentionAge(count: 10, unit: .years)))
        XCTAssertNil(OutputRetention.Keep(text: "soon"))
    }
}
