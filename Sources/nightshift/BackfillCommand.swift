import ArgumentParser
import Foundation
import NightShiftCore
import NightShiftEngine
import PostgresClient

struct BackfillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Ask for a batch to run for a range of past business dates, every job at P4 (managers and directors).",
        discussion: """
            One request for the whole range (at most 93 business dates, all before today): the runner makes a \
            batch run per date, every job at P4, so it runs only where the windows let P4 run and never \
            ahead of the night's own work. The request goes through the same rules as `submit` (role, \
            quota, a second manager's approval in production) and is finished when every run has ended. \
            --dry-run asks nothing: it shows what the backfill would do to the next night's forecast (when \
            the daily batch's P1–P3 jobs would end, its critical path, and when the backfill would end).
            Example:
              nightshift backfill daily --from 2026-11-01 --to 2026-11-07 --reason "prices corrected" --dry-run
            """
    )

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The batch (daily, weekly, monthly, yearend).") var batch: String
    @Option(help: "The first business date (YYYY-MM-DD).") var from: String
    @Option(help: "The last business date (YYYY-MM-DD).") var to: String
    @Option(help: "Why (recorded and audited).") var reason: String = ""
    @Flag(help: "Show what it would do to the next night's forecast; ask nothing.") var dryRun = false

    func validate() throws {
        guard BatchKind(rawValue: batch) != nil else { throw ValidationError("\(batch) is not a batch; use daily, weekly, monthly or yearend") }
        guard let first = LocalDate(iso: from) else { throw ValidationError("--from \(from) is not a date; write YYYY-MM-DD") }
        guard let last = LocalDate(iso: to) else { throw ValidationError("--to \(to) is not a date; write YYYY-MM-DD") }
        guard first <= last else { throw ValidationError("--to \(to) is before --from \(from)") }
        guard last.dayNumber - first.dayNumber < BackfillForecast.maxDates else {
            throw ValidationError("\(from) to \(to) is \(last.dayNumber - first.dayNumber + 1) business dates; a backfill covers at most \(BackfillForecast.maxDates): split it")
        }
        if !dryRun && reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw ValidationError("say why with --reason") }
    }

    func run() throws {
        let kind = BatchKind(rawValue: batch)!
        let first = LocalDate(iso: from)!, last = LocalDate(iso: to)!
        if dryRun {
            let configuration = try loadConfiguration(options)
            let db = try PostgresConnection(conninfo: connectionString(options, configuration.settings))
            defer { db.close() }
            guard let forecast = try BackfillForecast.forecast(db: db, configuration: configuration, now: Date(), batch: kind, from: first, to: last)
            else {
                printError("error: the daily batch has no scheduled night ahead to forecast")
                throw ExitCode(1)
            }
            print("Dry run: nothing was asked.")
            for line in forecast.lines(zone: configuration.settings.timeZone) { print(line) }
            return
        }
        let client = try RequestClient(options)
        let today = LocalDate(Date(), in: client.configuration.settings.timeZone)
        if last >= today { try client.refuse("--to \(to) is not a past business date (today is \(today)); a backfill is for days that have ended") }
        if client.configuration.jobs(in: kind).isEmpty { try client.refuse("the \(batch) batch has no jobs (jobs/*.yaml)") }
        let outcome = try client.call {
            try client.store.submitBackfill(batch: kind, from: first, to: last, reason: reason.trimmingCharacters(in: .whitespacesAndNewlines),
                                            host: client.host, command: client.command)
        }
        try client.report(outcome) { id, state in
            let next = state == .awaitingApproval
                ? "production: it runs after a second manager approves it (`nightshift approve \(id)`)"
                : "a running `nightshift run` makes its \(last.dayNumber - first.dayNumber + 1) batch runs within 2 s; `nightshift requests` shows where it is"
            return "request #\(id) recorded for \(client.account): the \(batch) batch for \(first) to \(last) at P4 (backfill). \(next)"
        }
    }
}
