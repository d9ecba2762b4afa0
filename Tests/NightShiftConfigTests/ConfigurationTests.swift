import NightShiftConfig
import NightShiftCore
import TestSupport
import XCTest

final class ConfigurationTests: XCTestCase {
    var project: ProjectCopy!

    override func setUpWithError() throws { project = try ProjectCopy() }
    override func tearDown() { project?.cleanup() }

    func errors() -> [String] { Configuration.check(root: project.root).errors.map(\.description) }

    func testExcelOutputsRefuseWhatAWorkbookCannotBe() throws {
        var job = try project.read("jobs/customer_statements.yaml")
        job = job.replacingOccurrences(of: "      sheet: 客戶對帳單\n", with: """
                  sheet: "對帳單[2026]"
                  encoding: big5
                  compress: gzip
                  split_megabytes: 10
                  sheet_rows: 2000000

            """)
        try project.write("jobs/customer_statements.yaml", job)
        let found = errors().map { $0.replacing(#/jobs/customer_statements.yaml:\d+: /#, with: "") }
        XCTAssertEqual(found.count, 5, "\(found)")
        for expected in ["report.outputs[1].encoding: an Excel workbook holds Unicode text",
                         "report.outputs[1].compress: an .xlsx file is a zip archive already",
                         "report.outputs[1].split_megabytes: a workbook's size is known only once it is written",
                         "report.outputs[1].sheet: \"對帳單[2026]\" holds `[`, which Excel does not allow in a sheet name",
                         "report.outputs[1].sheet_rows:"] {
            XCTAssertTrue(found.contains { $0.hasPrefix(expected) }, "\(expected) not in \(found)")
        }
        // Without a sheet name, the sheet is named after the job.
        try project.write("jobs/customer_statements.yaml", try project.read("jobs/customer_statements.yaml")
            .replacing(#/      sheet: .*\n(.*\n)*/#, with: ""))
        let configuration = try Configuration.load(root: project.root)
        guard case let .report(report) = configuration.jobs.first(where: { $0.name == "customer_statements" })!.action else { return XCTFail() }
        XCTAssertEqual(report.outputs[1].format, .xlsx(sheet: "customer_statements", sheetRows: 1_048_575))
    }

    func testOutputRetentionByKindAndByJobAndTheRegulatoryMinimum() throws {
        var settings = try project.read("etc/nightshift.yaml")
        XCTAssertTrue(settings.contains("  outputs:\n    export: 7 years"), "the shipped retention")
        settings = settings.replacing(#/  outputs:\n(    .*\n)+/#, with: "  outputs: {export: 5 years, report: 90 days, archive: soon}\n")
        try project.write("etc/nightshift.yaml", settings)
        var job = try project.read("jobs/vat_declaration_export.yaml")
        job += "retention: {outputs: 3 years}\n"
        try project.write("jobs/vat_declaration_export.yaml", job)
        try project.write("jobs/daily_sales_summary.yaml", try project.read("jobs/daily_sales_summary.yaml") + "retention: {outputs: never}\n")
        var found = errors()
        XCTAssertEqual(found.count, 2, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("retention.outputs.export: exports are regulatory records and are kept at least 7 years, not 5 years") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("retention.outputs.archive: `soon` is not a time such as `1 year` or `90 days`, or `never`") }, "\(found)")
        try project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "{export: 5 years, report: 90 days, archive: soon}", with: "{export: 10 years, report: 90 days}"))
        found = errors()
        XCTAssertEqual(found.count, 2, "\(found)")
        XCTAssertTrue(found.contains { $0.hasPrefix("jobs/vat_declaration_export.yaml:") && $0.contains("retention.outputs: exports are regulatory records and are kept at least 7 years, not 3 years") }, "\(found)")
        XCTAssertTrue(found.contains { $0.hasPrefix("jobs/daily_sales_summary.yaml:") && $0.contains("a job of kind aggregation publishes no files to keep") }, "\(found)")

        try project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "{export: 5 years, report: 90 days, archive: soon}", with: "{export: 10 years, report: 90 days}"))
        try project.write("jobs/vat_declaration_export.yaml", job.replacingOccurrences(of: "3 years", with: "never"))
        try project.write("jobs/daily_sales_summary.yaml", try project.read("jobs/daily_sales_summary.yaml").replacingOccurrences(of: "retention: {outputs: never}\n", with: ""))
        let retention = try Configuration.load(root: project.root).outputRetention
        XCTAssertEqual(retention.keep(job: "vat_declaration_export", kind: .export), .forEver)
        XCTAssertEqual(retention.keep(job: "daily_delivery_export", kind: .export), .age(RetentionAge(count: 10, unit: .years)))
        XCTAssertEqual(retention.keep(job: "branch_sales_report", kind: .report), .age(RetentionAge(count: 90, unit: .days)))
        XCTAssertEqual(retention.keep(job: "archive_old_deliveries", kind: .archive), .forEver)
    }

    func testTheShippedConfigurationIsValid() throws {
        let configuration = try Configuration.load(root: project.root)
        let daily = configuration.jobs.filter { $0.batch == .daily }
        XCTAssertEqual(daily.map(\.name), ["branch_sales_report", "customer_consumption", "cylinder_reconciliation", "daily_delivery_export",
                                           "daily_sales_summary", "delivery_charges", "delivery_register", "hourly_deliveries", "inventory_snapshot"])
        XCTAssertEqual(configuration.jobs.filter { $0.batch == .monthly }.map(\.name),
                       ["customer_statements", "monthly_close", "monthly_revenue_report", "monthly_sales", "receivables_aging", "vat_declaration_export"])
        XCTAssertEqual(configuration.jobs.filter { $0.batch == .weekly }.map(\.name),
                       ["archive_import_staging", "archive_old_deliveries", "archive_system_log", "weekly_trend_report", "weekly_trends"])
        guard case let .archive(archive) = configuration.jobs.first(where: { $0.name == "archive_old_deliveries" })!.action else { return XCTFail() }
        XCTAssertEqual(archive.olderThan, RetentionAge(count: 2, unit: .years))
        XCTAssertEqual(archive.children.map(\.table), ["erp.payments", "erp.invoices", "erp.cylinder_movements", "erp.delivery_charges"])
        XCTAssertEqual(archive.recipients, ["exports@luckygas.example"])
        XCTAssertEqual(archive.minSavingPercent, 50)
        XCTAssertEqual(configuration.jobs.filter { $0.batch == .yearend }.count, 2)
        XCTAssertEqual(configuration.settings.timeZone.identifier, "Asia/Taipei")
        func job(_ name: String) -> JobDefinition { configuration.jobs.first { $0.name == name }! }
        XCTAssertEqual(job("customer_consumption").locks, ["erp.customer_consumption"])
        guard case let .report(report) = job("branch_sales_report").action else { return XCTFail() }
        XCTAssertEqual(report.outputs.map(\.fileExtension), ["html", "csv", "txt"])
        XCTAssertEqual(report.outputs[2].encoding, .big5)
        guard case let .report(statements) = job("customer_statements").action else { return XCTFail() }
        XCTAssertEqual(statements.outputs.map(\.fileExtension), ["csv", "xlsx"])
        XCTAssertEqual(statements.outputs[1].format, .xlsx(sheet: "客戶對帳單", sheetRows: 1_048_575))
        let export = job("daily_delivery_export")
        XCTAssertEqual(export.priority, .p3)
        XCTAssertEqual(export.dependsOn, ["daily_sales_summary", "delivery_charges"])
        guard case let .export(spec) = export.action else { return XCTFail() }
        XCTAssertEqual(spec.rowsPerFile, 50_000)
        XCTAssertEqual(spec.recipients, ["exports@luckygas.example"])
        XCTAssertNil(spec.keyColumn, "one sorted COPY: faster than keyset parts (scripts/bench export)")
        XCTAssertTrue(spec.customerData)
        XCTAssertEqual(spec.format, .zip)
    }

    func testUnknownKeyNamesFileLineAndSuggestsTheKnownKey() throws {
        var text = try project.read("jobs/daily_sales_summary.yaml")
        text = text.replacingOccurrences(of: "priority: P2", with: "priorty: P2")
        try project.write("jobs/daily_sales_summary.yaml", text)
        let found = errors()
        XCTAssertEqual(found, ["jobs/daily_sales_summary.yaml:6: priorty: unknown key. Fix: did you mean `priority`? remove it or use one of: aggregation, archive, batch, calculation, deliver_to, depends_on, description, estimate_minutes, export, kind, locks, name, priority, report, retention, retries, timeout_minutes"])
    }

    func testBadValuesSayWhatIsAllowed() throws {
        try project.write("jobs/daily_sales_summary.yaml", """
            name: daily_sales_summary
            kind: aggregation
            batch: nightly
            priority: P7
            estimate_minutes: -3
            aggregation:
              sql: jobs/daily_sales_summary.sql
            """)
        let found = errors()
        XCTAssertTrue(found.contains("jobs/daily_sales_summary.yaml:3: batch: `nightly` is not one of daily, weekly, monthly, yearend. Fix: write `batch: daily`"), "\(found)")
        XCTAssertTrue(found.contains("jobs/daily_sales_summary.yaml:4: priority: `P7` is not P1, P2, P3 or P4. Fix: write `priority: P3`"), "\(found)")
        XCTAssertTrue(found.contains { $0.hasPrefix("jobs/daily_sales_summary.yaml:5: estimate_minutes: `-3` is not a whole number from 0 to 1440") }, "\(found)")
    }

    func testMissingSQLFileAndMisplacedSection() throws {
        try project.write("jobs/delivery_charges.yaml", """
            name: delivery_charges
            kind: calculation
            batch: daily
            priority: P3
            export:
              query: x.sql
            calculation:
              staging: jobs/delivery_charges/staging.sql
              stage: jobs/delivery_charges/nope.sql
              apply: jobs/delivery_charges/apply.sql
              key: delivery_id
              chunk_size: 0
            """)
        let found = errors()
        XCTAssertTrue(found.contains { $0.contains("calculation.stage: SQL file jobs/delivery_charges/nope.sql does not exist") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("export: a `export:` section does not belong to a job of kind calculation") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("calculation.chunk_size: `0` is not a whole number from 1 to 100000") }, "\(found)")
    }

    func testCycleNamesEveryJobOnIt() throws {
        var text = try project.read("jobs/daily_sales_summary.yaml")
        text += "depends_on: [daily_delivery_export]\n"
        try project.write("jobs/daily_sales_summary.yaml", text)
        let found = errors()
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found[0].contains("dependency cycle: daily_sales_summary → daily_delivery_export → daily_sales_summary")
                      || found[0].contains("dependency cycle: daily_delivery_export → daily_sales_summary → daily_delivery_export"), found[0])
    }

    func testUnknownDependencyAndFileNameMismatch() throws {
        try project.write("jobs/extra.yaml", """
            name: not_extra
            kind: aggregation
            batch: daily
            priority: P4
            depends_on: [daily_sales_sumary]
            aggregation:
              sql: jobs/daily_sales_summary.sql
            """)
        let found = errors()
        XCTAssertTrue(found.contains { $0.contains("jobs/extra.yaml:1: name: the job is named `not_extra` but its file is extra.yaml") }, "\(found)")
        try project.write("jobs/extra.yaml", """
            name: extra
            kind: aggregation
            batch: daily
            priority: P4
            depends_on: [daily_sales_sumary]
            aggregation:
              sql: jobs/daily_sales_summary.sql
            """)
        XCTAssertEqual(errors(), ["jobs/extra.yaml: depends_on: job extra depends on daily_sales_sumary, which is not a configured job. Fix: fix the name in depends_on or add jobs/daily_sales_sumary.yaml"])
    }

    func testCustomerDataWithoutARecipientAndSigningWithoutAKeyAreConfigurationErrors() throws {
        var job = try project.read("jobs/daily_delivery_export.yaml")
        job = job.replacingOccurrences(of: "customer_data: true", with: "customer_data: true\n  recipients: []\n  sign: true\n  format: tar.gz")
        job = job.replacingOccurrences(of: "  format: zip\n", with: "")
        try project.write("jobs/daily_delivery_export.yaml", job)
        let settings = try project.read("etc/nightshift.yaml")
        try project.write("etc/nightshift.yaml", settings.split(separator: "\n").filter { !$0.contains("signing_key:") }.joined(separator: "\n"))
        try project.remove("jobs/vat_declaration_export.yaml")
        let found = errors()
        XCTAssertTrue(found.contains { $0.hasPrefix("jobs/daily_delivery_export.yaml:") && $0.contains("export.recipients: the export carries customer data (customer_data: true) but has no recipient") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("export.sign: the export is to be signed but no signing key is configured. Fix: set export.signing_key") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("export.format: `tar.gz` is not zip or tar.zst") }, "\(found)")
        XCTAssertEqual(found.count, 3, "\(found)")
    }

    func testACustomerDataReportNeedsARecipientAndRecipientsNeedCustomerData() throws {
        let register = try project.read("jobs/delivery_register.yaml")
        XCTAssertTrue(register.contains("  customer_data: true"))
        let spec = try XCTUnwrap(Configuration.load(root: project.root).jobs.first { $0.name == "delivery_register" }?.action)
        guard case let .report(report) = spec else { return XCTFail("\(spec)") }
        XCTAssertTrue(report.customerData)
        XCTAssertEqual(report.recipients.count, 1, "export.recipient by default")

        try project.write("jobs/delivery_register.yaml", register.replacingOccurrences(of: "  customer_data: true", with: "  customer_data: true\n  recipients: []"))
        var found = errors()
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found[0].hasPrefix("jobs/delivery_register.yaml:") && found[0].contains("report.recipients: the report carries customer data (customer_data: true) but has no recipient"), "\(found)")

        try project.write("jobs/delivery_register.yaml", register.replacingOccurrences(of: "  customer_data: true", with: "  recipients: [office@example.com]"))
        found = errors()
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found[0].contains("report.recipients: recipients are for a report that holds customer data") && found[0].contains("Fix: add `customer_data: true`"), "\(found)")
    }

    func testYAMLSyntaxErrorHasALine() throws {
        try project.write("jobs/daily_sales_summary.yaml", "name: daily_sales_summary\nkind: [aggregation\nbatch: daily\n")
        let found = errors()
        XCTAssertEqual(found.count, 1)
        XCTAssertTrue(found[0].hasPrefix("jobs/daily_sales_summary.yaml:"), found[0])
        XCTAssertTrue(found[0].contains("not valid YAML"), found[0])
    }

    func testRunnerSettingsErrors() throws {
        try project.write("etc/nightshift.yaml", """
            timezone: Asia/Taipie
            export:
              keyring: var/gnupg
            mail:
              from: x <x@y>
              to: []
            limits:
              retries: 99
            """)
        let found = errors()
        XCTAssertTrue(found.contains { $0.hasPrefix("etc/nightshift.yaml:1: timezone: `Asia/Taipie` is not an IANA time zone") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("export.recipient: missing required key") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("mail.to: the summary needs at least one recipient") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("limits.retries: `99` is not a whole number from 0 to 10") }, "\(found)")
    }
}
