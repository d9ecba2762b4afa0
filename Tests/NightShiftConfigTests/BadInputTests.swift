import Foundation
import NightShiftConfig
import NightShiftCore
import TestSupport
import XCTest

/// Bad input never runs and never hangs: each problem is reported with the file and the fix.
final class BadInputTests: XCTestCase {
    var project: ProjectCopy!

    override func setUpWithError() throws { project = try ProjectCopy() }
    override func tearDown() { project?.cleanup() }

    func errors() -> [String] { Configuration.check(root: project.root).errors.map(\.description) }

    func testSQLPathsThatLeaveSqlAreConfigurationErrors() throws {
        var job = try project.read("jobs/daily_sales_summary.yaml")
        job = job.replacingOccurrences(of: "sql: jobs/daily_sales_summary.sql", with: "sql: ../../../../etc/passwd")
        try project.write("jobs/daily_sales_summary.yaml", job)
        let found = errors()
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found[0].hasPrefix("jobs/daily_sales_summary.yaml:"), found[0])
        XCTAssertTrue(found[0].contains("aggregation.sql: SQL path `../../../../etc/passwd` leaves"), found[0])
        XCTAssertFalse(found[0].contains("root:"), "the file's text never reaches the error")

        try project.write("jobs/daily_sales_summary.yaml", job.replacingOccurrences(of: "../../../../etc/passwd", with: "/etc/passwd"))
        XCTAssertTrue(errors().first?.contains("SQL path `/etc/passwd` leaves") == true, "\(errors())")

        // A symbolic link inside sql/ that points outside is refused too.
        try FileManager.default.createSymbolicLink(atPath: "\(project.root)/sql/jobs/sneaky.sql", withDestinationPath: "/etc/passwd")
        try project.write("jobs/daily_sales_summary.yaml", job.replacingOccurrences(of: "../../../../etc/passwd", with: "jobs/sneaky.sql"))
        XCTAssertTrue(errors().first?.contains("resolves (through a symbolic link) to /etc/passwd") == true, "\(errors())")
    }

    func testOperatorsFileErrorsNameTheLineAndTheFix() throws {
        try project.write("etc/operators.yaml", """
            accounts:
              alice: manager
              bob: boss
            quota_per_day: 0
            approval_hour: 24
            """)
        let found = errors()
        XCTAssertEqual(found.count, 3, "\(found)")
        XCTAssertTrue(found.contains { $0.hasPrefix("etc/operators.yaml:3") && $0.contains("accounts.bob") && $0.contains("`boss` is not a role")
            && $0.contains("operator, manager or director") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("quota_per_day") && $0.contains("from 1 to 100") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("approval_hour") && $0.contains("unknown key") && $0.contains("did you mean `approval_hours`") },
                      "\(found)")

        try project.write("etc/operators.yaml", "accounts:\n  alice: manager\n")
        let configuration = try Configuration.load(root: project.root)
        XCTAssertEqual(configuration.requestPolicy.accounts, ["alice": .manager])
        XCTAssertEqual(configuration.requestPolicy.quotaPerDay, 3)
        XCTAssertFalse(configuration.requestPolicy.needsApproval, "development")

        try project.remove("etc/operators.yaml")
        let without = try Configuration.load(root: project.root)
        XCTAssertTrue(without.requestPolicy.accounts.isEmpty)
        XCTAssertTrue(without.warnings.contains { $0.contains("etc/operators.yaml is missing: nobody may submit requests") }, "\(without.warnings)")

        let settings = try project.read("etc/nightshift.yaml")
        try project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "environment: development", with: "environment: prod"))
        XCTAssertTrue(errors().first?.contains("`prod` is not development, staging or production") == true, "\(errors())")
        try project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "environment: development", with: "environment: production"))
        XCTAssertTrue(try Configuration.load(root: project.root).requestPolicy.needsApproval)
    }

    func testSlotsConnectionsAndTheReplacedWorkersKey() throws {
        let settings = try project.read("etc/nightshift.yaml")
        try project.write("etc/nightshift.yaml", settings.replacingOccurrences(of: "concurrent_jobs: 2 ", with: "concurrent_jobs: 4 "))
        var found = errors()
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found[0].contains("limits.max_connections: 4 job slots need 17 connections (8 for the runner's services, 1 for the console, 2 per slot)")
                      && found[0].contains("raise limits.max_connections to at least 17"),
                      found[0])
        try project.write("etc/nightshift.yaml", settings + "\nrunner:\n  workers: 3\n")
        found = errors()
        XCTAssertEqual(found.count, 1, "\(found)")
        XCTAssertTrue(found[0].contains("runner.workers was replaced by limits.concurrent_jobs"), found[0])
        try project.write("etc/nightshift.yaml", settings)
        let configuration = try Configuration.load(root: project.root)
        XCTAssertEqual(configuration.settings.service.workers, 2, "the workers are the job slots")
        XCTAssertEqual(configuration.settings.maxConcurrentBatches, 2)
        XCTAssertEqual(configuration.settings.totalConnections, 50)
    }

    func testRuntimeSQLReadsStayInsideSqlToo() throws {
        let configuration = try Configuration.load(root: project.root)
        XCTAssertThrowsError(try configuration.sql("../etc/nightshift.yaml")) {
            XCTAssertTrue("\($0)".contains("leaves"), "\($0)")
        }
        XCTAssertNoThrow(try configuration.sql("jobs/daily_sales_summary.sql"))
    }

    func testPathsThatAreFilesInsteadOfDirectories() throws {
        var settings = try project.read("etc/nightshift.yaml")
        settings = settings.replacingOccurrences(of: "exports: var/exports", with: "exports: etc/windows.yaml")
        try project.write("etc/nightshift.yaml", settings)
        let found = errors()
        XCTAssertTrue(found.contains { $0.contains("etc/nightshift.yaml:") && $0.contains("paths.exports:") && $0.contains("is a file, not a directory") },
                      "\(found)")
    }

    func testNonUTF8FilesNameTheLineOfTheFirstBadByte() throws {
        var bytes = Array("name: daily_sales_summary\nkind: aggregation\ndescription: ".utf8)
        bytes += [0xA5, 0xC3, 0xB4] // Big5, not UTF-8
        bytes += Array("\nbatch: daily\n".utf8)
        try Data(bytes).write(to: URL(fileURLWithPath: "\(project.root)/jobs/daily_sales_summary.yaml"))
        let found = errors()
        XCTAssertTrue(found.contains { $0.hasPrefix("jobs/daily_sales_summary.yaml:3") && $0.contains("is not UTF-8 text") && $0.contains("iconv") },
                      "\(found)")
    }

    func testOversizedFilesAndDevicesAreRefusedWithoutReadingThem() throws {
        try project.write("jobs/huge.yaml", String(repeating: "# padding\n", count: 120_000))
        XCTAssertTrue(errors().contains { $0.hasPrefix("jobs/huge.yaml") && $0.contains("at most 1048576 bytes") }, "\(errors())")
        try project.remove("jobs/huge.yaml")

        // A FIFO would block a reader forever: it is refused by its type.
        XCTAssertEqual(mkfifo("\(project.root)/jobs/pipe.yaml", 0o600), 0)
        let started = Date()
        XCTAssertTrue(errors().contains { $0.hasPrefix("jobs/pipe.yaml") && $0.contains("is not a regular file") }, "\(errors())")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testADirectoryNamedLikeAJobFile() throws {
        try FileManager.default.createDirectory(atPath: "\(project.root)/jobs/folder.yaml", withIntermediateDirectories: false)
        XCTAssertTrue(errors().contains { $0.hasPrefix("jobs/folder.yaml") && $0.contains("is a directory, not a file") }, "\(errors())")
    }

    func testArchiveJobMistakesNameTheKeyAndTheFix() throws {
        let job = try project.read("jobs/archive_old_deliveries.yaml")
        try project.write("jobs/archive_old_deliveries.yaml", job
            .replacingOccurrences(of: "table: erp.deliveries", with: "table: deliveries; DROP TABLE x")
            .replacingOccurrences(of: "older_than: 2 years", with: "older_than: 2 fortnights")
            .replacingOccurrences(of: "column: delivery_id}\n    - {table: erp.invoices", with: "column: delivery_id}\n    - {table: erp.payments")
            .replacingOccurrences(of: "  after_restore: jobs/archive_old_deliveries/carry_back.sql\n", with: "")
            .replacingOccurrences(of: "chunk_rows: 10000", with: "chunk_rows: 10000\n  recipients: []\n  compress: yes"))
        let found = errors().joined(separator: "\n")
        XCTAssertTrue(found.contains("jobs/archive_old_deliveries.yaml:12: archive.table:"), found)
        XCTAssertTrue(found.contains("schema.table in lower case"), found)
        XCTAssertTrue(found.contains("archive.older_than:"), found)
        XCTAssertTrue(found.contains("a count and a unit: days, weeks, months or years"), found)
        XCTAssertTrue(found.contains("erp.payments is listed twice"), found)
        XCTAssertTrue(found.contains("archives are always encrypted, and this one has no recipient"), found)
        XCTAssertTrue(found.contains("archive.compress"), found)

        // before_delete with nothing to undo it on restore.
        try project.write("jobs/archive_old_deliveries.yaml",
                          job.replacingOccurrences(of: "  after_restore: jobs/archive_old_deliveries/carry_back.sql\n", with: ""))
        let undo = errors()
        XCTAssertEqual(undo.count, 1, "\(undo)")
        XCTAssertTrue(undo.first?.contains("add `after_restore:`") == true, "\(undo)")
    }
}
