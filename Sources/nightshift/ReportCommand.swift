import ArgumentParser
import Foundation
import NightShiftCore
import NightShiftEngine
import Packaging

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Reports on the runner itself: `report ops` — the operations report of a period.",
        discussion: """
            `report ops --from DATE --to DATE` writes the operations report of the batch runs scheduled \
            from DATE to DATE (both included; default: the 7 days before today): batch success rate \
            (goal > 95%), on-time completion (> 90%), error rate (< 2%), recovery success (> 98%), \
            records per hour, batch outcomes per day and each job's average duration with its trend \
            against the period before. It writes ops-FROM-TO.html (with SVG charts) and ops-FROM-TO.csv \
            into --out (default paths.reports/ops) and prints the figures. The running service mails \
            the same report of the past week every Sunday at mail.morning. Needs an operator.
            """
    )

    enum Kind: String, ExpressibleByArgument { case ops }

    @OptionGroup var options: GlobalOptions
    @Argument(help: "ops") var kind: Kind
    @Option(help: "The first business day (YYYY-MM-DD).") var from: String?
    @Option(help: "The last business day, included (YYYY-MM-DD).") var to: String?
    @Option(help: "The folder for the HTML and CSV (default: paths.reports/ops).") var out: String?

    func validate() throws {
        for (name, value) in [("--from", from), ("--to", to)] {
            if let value, LocalDate(iso: value) == nil { throw ValidationError("\(name) \(value) is not a date YYYY-MM-DD") }
        }
        if let from, let to, let first = LocalDate(iso: from), let last = LocalDate(iso: to), last < first {
            throw ValidationError("--to \(to) is before --from \(from)")
        }
    }

    func run() throws {
        let client = try RequestClient(options)
        try client.require(.list)
        let settings = client.configuration.settings
        let today = LocalDateTime(Date(), in: settings.timeZone).date
        let last = to.flatMap { LocalDate(iso: $0) } ?? today.adding(days: -1)
        let first = from.flatMap { LocalDate(iso: $0) } ?? last.adding(days: -6)
        let work = try client.runnerDatabase()
        defer { work.close() }
        let report = try client.call {
            try OperationsReport.load(db: work, from: first, to: last.adding(days: 1), zone: settings.timeZone)
        }
        let folder = out.map { $0.hasPrefix("/") ? $0 : "\(FileManager.default.currentDirectoryPath)/\($0)" } ?? "\(settings.reportsDirectory)/ops"
        try PrivateFiles.makeDirectory(folder)
        let rendered = try report.rendered(configuration: client.configuration, now: Date())
        let base = "\(folder)/ops-\(first)-\(last)"
        try PrivateFiles.write(Data(rendered.html.utf8), to: base + ".html")
        try PrivateFiles.write(Data(report.csv().utf8), to: base + ".csv")
        print(rendered.subject)
        print(rendered.text.components(separatedBy: "\n").prefix { !$0.hasPrefix("Batch runs per day") }.dropFirst(3).joined(separator: "\n"))
        print("written: \(base).html, \(base).csv")
    }
}
