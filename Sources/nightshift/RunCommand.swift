import ArgumentParser
import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftEngine
import PostgresClient

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a batch now, as if the clock read --at (applies pending migrations first).",
        discussion: """
            Example: nightshift run --once --at 2026-11-23T02:00:00+08:00 runs the daily batch for
            business date 2026-11-22. Exit status: 0 when every job succeeded, 1 when any job failed
            or was skipped, 2 for configuration errors.
            This version runs one batch and exits (--once); the long-running scheduler is not built yet.
            """
    )

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Run one batch and exit.") var once = false
    @Option(help: "The instant to run as (ISO 8601 with offset); default: now.") var at: String?
    @Option(help: "Which batch: daily, weekly, monthly, yearend.") var batch: String = "daily"

    func validate() throws {
        guard once else {
            throw ValidationError("only --once is supported: the long-running scheduler loop is not built yet; run `nightshift run --once`")
        }
        if let at, parseInstant(at) == nil {
            throw ValidationError("--at \(at) is not an ISO 8601 instant; write e.g. 2026-11-23T02:00:00+08:00")
        }
        guard BatchKind(rawValue: batch) != nil else {
            throw ValidationError("--batch \(batch) is not one of \(BatchKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let logger = options.makeLogger()
        let configuration = try loadConfiguration(options)
        let conninfo = connectionString(options, configuration.settings)
        let instant = at.flatMap(parseInstant) ?? Date()
        let kind = BatchKind(rawValue: batch)!

        do {
            let db = try PostgresConnection(conninfo: conninfo)
            defer { db.close() }
            try Migrator(set: "runner", directory: "\(configuration.settings.sqlDirectory)/runner").apply(on: db)
        }
        let runner = BatchRunner(configuration: configuration, connect: { try PostgresConnection(conninfo: conninfo) }, logger: logger)
        let report = try runner.run(batch: kind, at: instant, trigger: "cli")
        printReport(report)
        if !report.succeeded { throw ExitCode(1) }
    }

    func printReport(_ report: BatchRunner.Report) {
        print("\(report.batch.rawValue) batch for \(report.businessDate) (run #\(report.batchRunID)): \(report.state.rawValue.uppercased())")
        let width = max(4, report.jobs.map(\.job.name.count).max() ?? 4)
        print("  " + "job".padding(toLength: width, withPad: " ", startingAt: 0) + "  prio  state      rows       seconds")
        for job in report.jobs {
            let line = "  " + job.job.name.padding(toLength: width, withPad: " ", startingAt: 0)
                + "  \(job.job.priority)    " + job.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
                + "  " + String(job.rows).padding(toLength: 9, withPad: " ", startingAt: 0)
                + "  " + String(format: "%.2f", job.seconds)
            print(line)
            if let failure = job.failure { print("      error: \(failure)") }
            if let reason = job.skipReason { print("      skipped: \(reason)") }
            if let note = job.note { print("      note: \(note)") }
            for output in job.outputs { print("      output: \(output.path)") }
        }
        if let summary = report.summary { print("summary message: \(summary.path)") }
        if let error = report.summaryError { print("summary message NOT written: \(error)") }
    }
}

/// Parses an ISO 8601 instant with an offset (fractional seconds allowed).
func parseInstant(_ text: String) -> Date? {
    let plain = ISO8601DateFormatter()
    plain.formatOptions = [.withInternetDateTime]
    if let date = plain.date(from: text) { return date }
    let fractional = ISO8601DateFormatter()
    fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return fractional.date(from: text)
}
