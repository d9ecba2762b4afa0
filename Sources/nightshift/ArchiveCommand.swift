import ArgumentParser
import Foundation
import NightShiftCore
import NightShiftEngine
import PostgresClient

struct ArchiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "The archive catalog: list what archive jobs moved out of the database, verify an archive, restore one.",
        discussion: """
            Archive jobs move rows past their retention age into encrypted tar.zst archives under \
            paths.archives (var/archives/<job>/), one catalog entry per archive. `list` shows the entries \
            (--job, --table). `verify ENTRY` checks the file's SHA-256 against the catalog, decrypts it and \
            checks every table's rows and SHA-256. `restore ENTRY` puts the rows back into their tables \
            (--into SCHEMA: into tables of that schema instead, created like the originals), all or nothing. \
            Listing and verifying need an operator, restoring a manager (etc/operators.yaml); every access \
            is audited (nightshift.audit).
            """
    )

    enum Action: String, ExpressibleByArgument { case list, verify, restore }

    @OptionGroup var options: GlobalOptions
    @Argument(help: "list, verify or restore.") var action: Action
    @Argument(help: "The catalog entry (verify, restore).") var entry: Int?
    @Option(help: "Only this job's entries (list).") var job: String?
    @Option(help: "Only entries of this table, schema.table (list).") var table: String?
    @Option(help: "Restore into tables of this schema instead of the original ones (restore).") var into: String?

    func run() throws {
        let client = try RequestClient(options)
        let gate: RequestStore.GatedAction = switch action {
        case .list: .archiveList
        case .verify: .archiveVerify
        case .restore: .archiveRestore
        }
        let actor = try client.require(gate, detail: "archive \(action.rawValue)\(entry.map { " of entry #\($0)" } ?? "")")
        let work = try client.runnerDatabase()
        defer { work.close() }
        let catalog = ArchiveCatalog(db: work)
        let keyring = client.configuration.settings.keyring
        let zone = client.configuration.settings.timeZone
        let audit = Audit(db: work)
        let who = client.person(actor)
        switch action {
        case .list:
            // Audited by the gate ("listed"): a read-only (nightshift_viewer) login is enough here.
            let entries = try client.call { try catalog.list(job: job, table: table) }
            if entries.isEmpty { print("the archive catalog has no entries" + (job.map { " of \($0)" } ?? "") + (table.map { " of \($0)" } ?? "")) }
            for entry in entries {
                let others = entry.tableRows.dropFirst().map { "\($0.rows) \($0.table)" }
                print("#\(entry.id) \(entry.table) \(entry.keyColumn) \(entry.firstKey)…\(entry.lastKey): \(entry.rows) rows"
                      + (others.isEmpty ? "" : " (+ \(others.joined(separator: ", ")))")
                      + " dated before \(entry.cutoff), archived \(entry.archivedAt.iso8601(in: zone)) by \(entry.job)")
                print("    \(entry.path) — \(entry.bytes) bytes, compression saved \(String(format: "%.1f", entry.savingPercent))%, SHA-256 \(entry.sha256)")
                if let restoredAt = entry.restoredAt {
                    print("    restored into \(entry.restoredInto ?? "?") by \(entry.restoredBy ?? "?") at \(restoredAt.iso8601(in: zone))")
                }
            }
        case .verify, .restore:
            guard let id = entry else { throw ValidationError("give the catalog entry's number: nightshift archive \(action.rawValue) ENTRY") }
            if action == .verify, into != nil { throw ValidationError("--into belongs to restore") }
            if let into, (try? /^[a-z_][a-z0-9_]{0,62}$/.wholeMatch(in: into)) == nil {
                throw ValidationError("--into \(into): give a schema name in lower case (letters, digits, underscores)")
            }
            do {
                let done = try client.call {
                    action == .verify ? try catalog.verify(id, keyring: keyring)
                        : try catalog.restore(id, into: into, keyring: keyring, afterRestore: try afterRestore(of: id, catalog, client),
                                              by: who)
                }
                let rows = done.tableRows.map { "\($0.rows) rows of \($0.table)" }.joined(separator: ", ")
                let what = action == .verify ? "verified: \(rows) as catalogued" : "restored \(rows) into \(into.map { "schema \($0)" } ?? "their tables")"
                try audit.record(who, command: client.command, outcome: action == .verify ? .verified : .restored,
                                detail: "archive entry #\(id) (\(done.path)): \(what)")
                print("archive entry #\(id) \(what)")
            } catch let error as ExitCode {
                throw error
            } catch let error as PostgresError where error.sqlState == "23505" {
                try? audit.record(who, command: client.command, outcome: .restoreFailed,
                                 detail: "archive entry #\(id): rows already present: \(error.message)")
                printError("error: archive entry #\(id) was not restored: its rows are already in the target table (\(error.detail ?? error.message)); "
                           + "nothing was written. It was restored before, or the rows were never deleted; `--into SCHEMA` puts a copy beside them")
                throw ExitCode(1)
            } catch {
                try? audit.record(who, command: client.command, outcome: .restoreFailed,
                                 detail: "archive entry #\(id): \(action.rawValue) failed: \(error)")
                printError("error: archive entry #\(id) could not be \(action == .verify ? "verified" : "restored"): \(error)")
                throw ExitCode(1)
            }
        }
    }

    /// The job's `after_restore` SQL when the rows go back into their own tables.
    private func afterRestore(of id: Int, _ catalog: ArchiveCatalog, _ client: RequestClient) throws -> String? {
        guard into == nil, let entry = try catalog.list(id: id).first,
              let job = client.configuration.jobs.first(where: { $0.name == entry.job }),
              case let .archive(spec) = job.action, let sql = spec.afterRestoreSQL else { return nil }
        return try client.configuration.sql(sql)
    }
}
