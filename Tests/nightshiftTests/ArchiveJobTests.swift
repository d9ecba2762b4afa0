import Foundation
import PostgresClient
import TestSupport
import XCTest

/// Archive jobs against a real database and the real tools: rows past retention leave their tables
/// into encrypted archives that `gpg` decrypts and `bsdtar` opens; every archived row comes back
/// byte-identical through `nightshift archive restore`; a changed archive is refused; and a runner
/// killed at any instant of the archiving neither loses nor duplicates a row.
final class ArchiveJobTests: XCTestCase {
    var database: TestDatabase!
    var keyring: ThrowawayKeyring!
    var project: ProjectCopy!
    static let weekly = "2026-11-22T01:00:00+08:00"
    static let tables = ["erp.deliveries", "erp.payments", "erp.invoices", "erp.cylinder_movements", "erp.system_log", "erp.import_staging"]

    override func setUpWithError() throws {
        database = try TestDatabase()
        keyring = try ThrowawayKeyring()
        project = try ProjectCopy()
        // The weekly batch with only its archive jobs, in chunks small enough to make several archives.
        for file in try FileManager.default.contentsOfDirectory(atPath: "\(project.root)/jobs")
        where file.hasSuffix(".yaml") && !file.hasPrefix("archive_") {
            try project.remove("jobs/\(file)")
        }
        let job = try project.read("jobs/archive_old_deliveries.yaml")
        try project.write("jobs/archive_old_deliveries.yaml", job.replacingOccurrences(of: "chunk_rows: 10000", with: "chunk_rows: 300"))
        try project.configure(keyring: keyring.home, recipient: keyring.email)
        let seed = try cli(["seed", "--customers", "1000", "--days", "2", "--until", "2026-11-21"])
        guard seed.status == 0 else { throw TestSetupError("seed failed: \(seed.stderr)") }
    }

    override func tearDown() {
        project?.cleanup()
        keyring?.remove()
    }

    func cli(_ arguments: [String]) throws -> ProcessOutput {
        try runProcess([try nightshiftBinary()] + arguments + ["--root", project.root], environment: ["DATABASE_URL": database.url])
    }

    func query(_ sql: String) throws -> QueryResult {
        let db = try database.connect()
        defer { db.close() }
        return try db.execute(sql)
    }

    func scalar(_ sql: String) throws -> String? { try query(sql).string(0, 0) }

    /// Each table's rows as text, in key order, hashed: equal fingerprints, equal rows.
    func fingerprint(schema: String = "erp") throws -> [String: String] {
        var result: [String: String] = [:]
        for table in ArchiveJobTests.tables {
            let name = schema + "." + table.split(separator: ".")[1]
            result[table] = try scalar("SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') FROM \(name) t")
        }
        return result
    }

    /// Cylinders at customers by a full recount: the opening balance plus every movement left.
    func cylindersAtCustomers() throws -> String? {
        try scalar("""
            SELECT sum(n) FROM (SELECT at_customers AS n FROM erp.cylinder_opening_balance
                                UNION ALL SELECT CASE direction WHEN 'out' THEN quantity ELSE -quantity END FROM erp.cylinder_movements) x
            """)
    }

    func archiveFiles() -> [String] {
        let root = "\(project.root)/var/archives"
        let jobs = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return jobs.flatMap { job in
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/\(job)")) ?? []).map { "\(root)/\(job)/\($0)" }
        }.sorted()
    }

    func testArchiveDeleteRestoreRoundTripWithRealTools() throws {
        let before = try fingerprint()
        let cylinders = try cylindersAtCustomers()
        let due = try scalar("""
            SELECT count(*) FROM erp.deliveries t WHERE delivery_date < '2024-11-21'
              AND (status = 'failed' OR EXISTS (SELECT 1 FROM erp.payments p WHERE p.delivery_id = t.id))
            """)!
        let unpaidOld = try scalar("SELECT count(*) FROM erp.deliveries WHERE delivery_date < '2024-11-21'")!
        let logsDue = try scalar("SELECT count(*) FROM erp.system_log WHERE logged_at < '2026-08-23 00:00+08'")!
        XCTAssertGreaterThan(Int(due)!, 600, "the seed has old, settled deliveries")

        let run = try cli(["run", "--once", "--batch", "weekly", "--at", ArchiveJobTests.weekly])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertTrue(run.stdout.contains("archive_old_deliveries  P4    succeeded  \(due) "), run.stdout)
        XCTAssertTrue(run.stdout.contains("archive_system_log      P4    succeeded  \(logsDue) "), run.stdout)
        XCTAssertTrue(run.stdout.contains("compression saved"), run.stdout)

        // The due rows are gone; unpaid ones (receivables) stay; the recount still finds every cylinder.
        XCTAssertEqual(try scalar("SELECT count(*) FROM erp.deliveries WHERE delivery_date < '2024-11-21'"), String(Int(unpaidOld)! - Int(due)!))
        XCTAssertEqual(try scalar("SELECT count(*) FROM erp.payments p WHERE NOT EXISTS (SELECT 1 FROM erp.deliveries d WHERE d.id = p.delivery_id)"), "0")
        XCTAssertEqual(try cylindersAtCustomers(), cylinders)

        // Every archive is decrypted by gpg and opened by bsdtar; its data lines are the catalog's rows.
        let catalog = try query("SELECT id, path, rows, tables::text AS tables FROM nightshift.archive_catalog ORDER BY id")
        XCTAssertEqual(catalog.rowCount, archiveFiles().count, "a catalog row per file, no other file")
        XCTAssertGreaterThanOrEqual(catalog.rowCount, 5, "several chunks of 300")
        var archivedDeliveries = 0
        let scratch = try TemporaryDirectory("archive-open")
        defer { scratch.remove() }
        for row in 0..<catalog.rowCount {
            let path = catalog.string(row, "path")!
            let plain = scratch.file("\(row).tar.zst")
            try keyring.decrypt(path, to: plain)
            let listing = try runProcess(["bsdtar", "-tf", plain])
            XCTAssertEqual(listing.status, 0, listing.stderr)
            let tables = try JSONSerialization.jsonObject(with: Data(catalog.string(row, "tables")!.utf8)) as! [[String: Any]]
            for table in tables {
                let entry = table["entry"] as! String
                XCTAssertTrue(listing.stdout.contains(entry), listing.stdout)
                let lines = try runProcess(["sh", "-c", "bsdtar -xOf \"$0\" \"$1\" | wc -l", plain, entry])
                XCTAssertEqual(Int(lines.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), table["rows"] as? Int, entry)
                let sha = try runProcess(["sh", "-c", "bsdtar -xOf \"$0\" \"$1\" | sha256sum", plain, entry])
                XCTAssertEqual(String(sha.stdout.prefix(64)), table["sha256"] as? String, entry)
            }
            if path.contains("erp.deliveries-") { archivedDeliveries += catalog.int(row, "rows")! }
        }
        XCTAssertEqual(archivedDeliveries, Int(due)!)

        // Restore every entry into the original tables: the database is as it was, row for row.
        for row in 0..<catalog.rowCount {
            let restore = try cli(["archive", "restore", catalog.string(row, "id")!])
            XCTAssertEqual(restore.status, 0, restore.stdout + restore.stderr)
        }
        XCTAssertEqual(try fingerprint(), before)
        XCTAssertEqual(try cylindersAtCustomers(), cylinders, "the carried-forward balance was carried back")
        XCTAssertEqual(try scalar("SELECT count(*) FROM nightshift.audit WHERE outcome = 'restored'"), String(catalog.rowCount))
        // A second restore of the same entry writes nothing and says why.
        let again = try cli(["archive", "restore", catalog.string(0, "id")!])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("already in the target table"), again.stderr)
        XCTAssertEqual(try fingerprint(), before)
        let list = try cli(["archive", "list", "--job", "archive_old_deliveries"])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("restored into original tables by \(currentAccount())"), list.stdout)
        XCTAssertEqual(try scalar("SELECT count(*) FROM nightshift.audit WHERE outcome = 'listed'"), "1")
    }

    func testRestoreIntoASchemaAndTamperedArchivesAreRefused() throws {
        let run = try cli(["run", "--once", "--batch", "weekly", "--at", ArchiveJobTests.weekly])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let entries = try query("SELECT id, path, rows FROM nightshift.archive_catalog WHERE job = 'archive_old_deliveries' ORDER BY id")
        XCTAssertGreaterThanOrEqual(entries.rowCount, 3)
        let first = entries.string(0, "id")!, second = entries.string(1, "id")!, third = entries.string(2, "id")!

        // --into: a copy to look at, next to the live tables.
        let into = try cli(["archive", "restore", first, "--into", "audit_copy"])
        XCTAssertEqual(into.status, 0, into.stdout + into.stderr)
        XCTAssertEqual(try scalar("SELECT count(*) FROM audit_copy.deliveries"), entries.string(0, "rows"))
        XCTAssertEqual(try scalar("SELECT count(*) FROM erp.deliveries d JOIN audit_copy.deliveries c USING (id)"), "0")

        // One flipped byte in the middle of an archive: verify and restore refuse, nothing is written.
        let path = entries.string(1, "path")!
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
        let count = try scalar("SELECT count(*) FROM erp.deliveries")
        let verify = try cli(["archive", "verify", second])
        XCTAssertEqual(verify.status, 1)
        XCTAssertTrue(verify.stderr.contains("it was changed or damaged"), verify.stderr)
        let restore = try cli(["archive", "restore", second])
        XCTAssertEqual(restore.status, 1)
        XCTAssertTrue(restore.stderr.contains("it was changed or damaged"), restore.stderr)
        XCTAssertEqual(try scalar("SELECT count(*) FROM erp.deliveries"), count)

        // Even with the catalog's checksum forged to match, the OpenPGP integrity check refuses it.
        let sha = try runProcess(["sha256sum", path])
        let db = try database.connect()
        try db.execute("UPDATE nightshift.archive_catalog SET sha256 = $1 WHERE id = $2::bigint", [String(sha.stdout.prefix(64)), second])
        db.close()
        let forged = try cli(["archive", "restore", second])
        XCTAssertEqual(forged.status, 1, forged.stdout)
        XCTAssertTrue(forged.stderr.contains("OpenPGP") || forged.stderr.contains("holds"), forged.stderr)
        XCTAssertEqual(try scalar("SELECT count(*) FROM erp.deliveries"), count)

        // An entry changed inside a re-encrypted archive (new rows, catalog checksum forged) is refused too.
        let scratch = try TemporaryDirectory("archive-forge")
        defer { scratch.remove() }
        let third3 = entries.string(2, "path")!
        try keyring.decrypt(third3, to: scratch.file("a.tar.zst"))
        let forge = try runProcess(["sh", "-c", """
            cd "$0" && mkdir x && cd x && bsdtar -xf ../a.tar.zst && sed -i '1d' erp.deliveries.copy && \
            bsdtar --zstd -cf ../b.tar.zst erp.deliveries.copy erp.payments.copy erp.invoices.copy erp.cylinder_movements.copy \
              erp.delivery_charges.copy archive.json && \
            gpg --homedir "$1" --batch --yes --trust-model always -r "$2" -o "$3" -e ../b.tar.zst && sha256sum "$3"
            """, scratch.path, keyring.home, keyring.email, third3])
        XCTAssertEqual(forge.status, 0, forge.stderr)
        let db2 = try database.connect()
        try db2.execute("UPDATE nightshift.archive_catalog SET sha256 = $1, bytes = $2 WHERE id = $3::bigint",
                        [String(forge.stdout.prefix(64)), String(try FileManager.default.attributesOfItem(atPath: third3)[.size] as! Int), third])
        db2.close()
        let changed = try cli(["archive", "restore", third])
        XCTAssertEqual(changed.status, 1, changed.stdout)
        XCTAssertTrue(changed.stderr.contains("erp.deliveries.copy holds"), changed.stderr)
        XCTAssertEqual(try scalar("SELECT count(*) FROM erp.deliveries"), count)
        XCTAssertEqual(try scalar("SELECT count(*) FROM nightshift.audit WHERE outcome = 'restore_failed'"), "4")
    }

    func testKilledAtAnyInstantNeitherLosesNorDuplicatesARow() throws {
        // Short leases so a restart takes the job over quickly; a pause between verifying an
        // archive and committing its deletes, where a kill leaves a file with no catalog row.
        // A job whose runner died is taken over as its next attempt: allow for every kill.
        var settings = try project.read("etc/nightshift.yaml")
        settings += "\nrunner:\n  lease_seconds: 3\n  heartbeat_seconds: 1\n  poll_milliseconds: 100\n"
        try project.write("etc/nightshift.yaml", settings)
        let carry = try project.read("sql/jobs/archive_old_deliveries/carry_forward.sql")
        try project.write("sql/jobs/archive_old_deliveries/carry_forward.sql", "SELECT pg_sleep(0.3);\n" + carry)
        let job = try project.read("jobs/archive_old_deliveries.yaml")
        try project.write("jobs/archive_old_deliveries.yaml", job.replacingOccurrences(of: "chunk_rows: 300", with: "chunk_rows: 100")
                            .replacingOccurrences(of: "priority: P4\n", with: "priority: P4\nretries: 10\n"))
        let before = try fingerprint()
        let cylinders = try cylindersAtCustomers()

        var kills = 0
        // The first run starts at once; a restart first waits for the killed runner's lease (3 s).
        for delay in [1.7, 4.6, 5.3, 4.2, 5.0] {
            let runner = try ChildProcess([try nightshiftBinary(), "run", "--once", "--batch", "weekly", "--at", ArchiveJobTests.weekly,
                                           "--root", project.root], environment: ["DATABASE_URL": database.url])
            Thread.sleep(forTimeInterval: delay)
            if runner.isRunning {
                runner.kill(SIGKILL)
                kills += 1
            }
            _ = runner.wait(timeout: 30)
        }
        XCTAssertGreaterThanOrEqual(kills, 3, "the runner was killed mid-archive")
        let last = try cli(["run", "--once", "--batch", "weekly", "--at", ArchiveJobTests.weekly])
        XCTAssertEqual(last.status, 0, last.stdout + last.stderr)
        XCTAssertEqual(try scalar("SELECT string_agg(DISTINCT state, ',') FROM nightshift.job_runs"), "succeeded")

        // Files and catalog agree (what a kill left uncommitted was removed); key ranges never overlap.
        let catalog = try query("SELECT id, path FROM nightshift.archive_catalog ORDER BY id")
        XCTAssertEqual((0..<catalog.rowCount).map { catalog.string($0, "path")! }.sorted(), archiveFiles())
        XCTAssertEqual(try scalar("""
            SELECT count(*) FROM nightshift.archive_catalog a JOIN nightshift.archive_catalog b
              ON a.id < b.id AND a.source_table = b.source_table AND a.first_key::bigint <= b.last_key::bigint AND b.first_key::bigint <= a.last_key::bigint
            """), "0")
        XCTAssertEqual(try cylindersAtCustomers(), cylinders)
        // Every archive restored beside the live tables (primary keys refuse a row twice), and the
        // live rows plus the restored ones are exactly the rows before the night.
        for row in 0..<catalog.rowCount {
            let restore = try cli(["archive", "restore", catalog.string(row, "id")!, "--into", "union_check"])
            XCTAssertEqual(restore.status, 0, restore.stdout + restore.stderr)
        }
        let db = try database.connect()
        for table in ArchiveJobTests.tables {
            let name = table.split(separator: ".")[1]
            try db.execute("CREATE TABLE IF NOT EXISTS union_check.\(name) (LIKE \(table) INCLUDING ALL)")
            try db.execute("INSERT INTO union_check.\(name) SELECT * FROM \(table)")
        }
        db.close()
        XCTAssertEqual(try fingerprint(schema: "union_check"), before)
    }
}
