import ArgumentParser
import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftEngine
import PostgresClient

struct OverrideCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "override",
        abstract: "Record a manual override for one job of one batch run, or list them.",
        discussion: """
            --skip: the job does not run; its dependents treat it as done. When a running batch run of \
            that batch and date has the job waiting (not started, or waiting to retry or resume), it is \
            skipped there at once.
            --ignore-dependency DEP: the job runs without waiting for DEP.
            Recorded in nightshift.manual_overrides with who asked (your operating-system account; \
            managers and directors in etc/operators.yaml) and --reason, and applied by the next run of \
            that batch and business date. Example:
              nightshift override --date 2026-11-22 --job daily_delivery_export --skip --reason "bank holiday"
            """
    )

    @OptionGroup var options: GlobalOptions
    @Option(help: "The business date (YYYY-MM-DD).") var date: String
    @Option(help: "Which batch: daily, weekly, monthly, yearend.") var batch: String = "daily"
    @Option(help: "The job.") var job: String?
    @Flag(help: "Skip the job.") var skip = false
    @Option(help: "Run the job without waiting for this dependency.") var ignoreDependency: String?
    @Option(help: "Why.") var reason: String?
    @Flag(help: "List the overrides recorded for the batch and date.") var list = false

    func validate() throws {
        guard LocalDate(iso: date) != nil else { throw ValidationError("--date \(date) is not a date; write YYYY-MM-DD") }
        guard BatchKind(rawValue: batch) != nil else { throw ValidationError("--batch must be daily, weekly, monthly or yearend") }
        if list { return }
        guard job != nil else { throw ValidationError("name the job with --job") }
        guard skip != (ignoreDependency != nil) else { throw ValidationError("give exactly one of --skip and --ignore-dependency DEP") }
        guard let reason, !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("say why with --reason") }
    }

    func run() throws {
        let configuration = try loadConfiguration(options)
        let kind = BatchKind(rawValue: batch)!
        let day = LocalDate(iso: date)!
        // The gate every person's action goes through, as the person's own database login.
        let client = try RequestClient(options)
        var prepared = false
        let who = try client.require(list ? .list : .override,
                                     detail: list ? "override list" : "override of \(job ?? "") in the \(batch) batch of \(date)") {
            let db = try client.runnerDatabase()
            defer { db.close() }
            try prepareRunnerSchema(configuration, db: db)
            prepared = true
        }
        let db = try client.runnerDatabase()
        defer { db.close() }
        if !prepared { try prepareRunnerSchema(configuration, db: db) }
        let store = OverrideStore(db: db)
        if list {
            let entries = try store.overrides(batch: kind, businessDate: day)
            if entries.isEmpty { print("no overrides for the \(batch) batch of \(date)") }
            for entry in entries { print("#\(entry.id) \(entry.override.job): \(entry.override.summary)") }
            return
        }
        guard let definition = configuration.jobs(in: kind).first(where: { $0.name == job }) else {
            printError("error: \(job!) is not a \(batch) job; jobs: \(configuration.jobs(in: kind).map(\.name).joined(separator: ", "))")
            throw ExitCode(2)
        }
        if let dep = ignoreDependency, !definition.dependsOn.contains(dep) {
            printError("error: \(definition.name) does not depend on \(dep); its dependencies: \(definition.dependsOn.joined(separator: ", "))")
            throw ExitCode(2)
        }
        let override = ManualOverride(job: definition.name, action: skip ? .skip : .ignoreDependency(ignoreDependency!),
                                      requestedBy: who, reason: reason!)
        let id = try store.record(override, batch: kind, businessDate: day)
        print("recorded override #\(id) for the \(batch) batch of \(date): \(override.job) \(override.summary)")
        if skip, let skipped = try store.skipQueued(overrideID: id, batch: kind, businessDate: day, job: definition.name, requestedBy: who,
                                                    reason: reason!, now: Date(), by: who) {
            print("job run #\(skipped) of the running \(batch) batch run was waiting: skipped now (its dependents treat it as done)")
        }
    }
}
