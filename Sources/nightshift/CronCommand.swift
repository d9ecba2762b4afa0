import ArgumentParser
import Foundation
import NightShiftCore

struct CronCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cron",
        abstract: "Print the next fire instants of a cron expression (ISO 8601 with offset, one per line).",
        discussion: """
            Five fields (minute hour day-of-month month day-of-week) with lists, ranges, steps, month and \
            weekday names, or @yearly @annually @monthly @weekly @daily @midnight @hourly. Day-of-week 0 \
            and 7 are Sunday; when day-of-month and day-of-week are both restricted, either matching fires. \
            DST: a time skipped by a spring-forward gap fires once at the first valid instant after it; a \
            time repeated by a fall-back overlap fires once, at its first occurrence.

            Example:
              nightshift cron "30 2 * * *" --zone America/New_York --from 2027-03-13T00:00:00-05:00
            """
    )

    @Argument(help: "The cron expression (quote it).") var expression: String
    @Option(help: "IANA time zone.") var zone: String = "Asia/Taipei"
    @Option(help: "Start after this instant (ISO 8601 with offset); default: now.") var from: String?
    @Option(help: "How many fire instants to print.") var count: Int = 10

    func validate() throws {
        guard TimeZone(identifier: zone) != nil else { throw ValidationError("--zone \(zone) is not an IANA time zone (e.g. Asia/Taipei)") }
        if let from, parseInstant(from) == nil { throw ValidationError("--from \(from) is not an ISO 8601 instant; write e.g. 2026-11-23T02:00:00+08:00") }
        guard (1...10_000).contains(count) else { throw ValidationError("--count must be between 1 and 10000") }
    }

    func run() throws {
        let cron: CronExpression
        do { cron = try CronExpression(expression) } catch {
            printError("error: \(error)")
            throw ExitCode(2)
        }
        let tz = TimeZone(identifier: zone)!
        for fire in cron.next(count, after: from.flatMap(parseInstant) ?? Date(), in: tz) {
            print(fire.iso8601(in: tz))
        }
    }
}
