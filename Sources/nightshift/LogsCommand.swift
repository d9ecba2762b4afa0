import ArgumentParser
import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftEngine
import PostgresClient

struct LogsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "A job's log: the runner's lines, the server's notices from its SQL, and its progress, attempt by attempt.",
        discussion: """
            Each attempt's lines are kept in the database with the job run, as long as the run history (history_days). \
            Without --date: the job's latest run. Times are the runner's clock in the business time zone. \
            --follow prints lines as they are written (the runner writes them every heartbeat) until the job has ended; \
            a job that waits to be retried is followed into its next attempt.
            """
    )

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The job (its name in jobs/).") var job: String
    @Option(help: "The business date of the run (YYYY-MM-DD); default: the job's latest run.") var date: String?
    @Option(help: "Only this attempt (1, 2, …).") var attempt: Int?
    @Flag(help: "Keep printing new lines until the job has ended.") var follow = false

    func validate() throws {
        if let date, LocalDate(iso: date) == nil { throw ValidationError("--date \(date) is not a date; give YYYY-MM-DD") }
        if let attempt, attempt < 1 { throw ValidationError("--attempt \(attempt) must be 1 or more") }
    }

    func run() throws {
        let configuration = try loadConfiguration(options)
        let zone = configuration.settings.timeZone
        let db = try PostgresConnection(conninfo: connectionString(options, configuration.settings))
        defer { db.close() }
        let store = JobLogStore(db: db)
        guard var run = try store.jobRun(job: job, businessDate: date.flatMap(LocalDate.init(iso:))) else {
            let known = configuration.jobs.contains { $0.name == job }
            printError(known ? "error: job \(job) has no run\(date.map { " for business date \($0)" } ?? "") in the run history; `nightshift history` lists the runs"
                             : "error: \(job) is not a job (no jobs/\(job).yaml) and has no run in the history; `nightshift check` lists the jobs")
            throw ExitCode(1)
        }
        say("\(run.job) · \(run.batch) batch of \(run.businessDate) · job run \(run.jobRunID) · \(run.state.rawValue) · \(run.attempts) attempt\(run.attempts == 1 ? "" : "s")")
        var last = (attempt: 0, seq: 0)
        var finalSince: Date?
        var printedAny = false
        var endedAttempts: Set<Int> = []
        while true {
            let lines = try store.lines(jobRunID: run.jobRunID, attempt: attempt, after: last)
            for line in lines {
                if line.attempt != last.attempt { say("── attempt \(line.attempt)") }
                say(line.text(in: zone))
                last = (line.attempt, line.seq)
                printedAny = true
                if line.source == .runner && line.message.hasPrefix("attempt \(line.attempt) ended") { endedAttempts.insert(line.attempt) }
            }
            if lines.count == 5_000 { continue }
            guard follow else { break }
            guard let now = try store.jobRun(id: run.jobRunID) else { break }
            run = now
            if run.state.isFinal {
                // The job's end is recorded before its last lines are written: wait for the line that
                // says how its last attempt ended (or a few seconds, for a run that has none).
                if endedAttempts.contains(run.attempts) || (finalSince.map { Date().timeIntervalSince($0) > 15 } ?? false) { break }
                if finalSince == nil { finalSince = Date() }
            }
            Thread.sleep(forTimeInterval: 1)
        }
        if !printedAny {
            say(attempt.map { "(attempt \($0) has no log lines)" } ?? "(no log lines: the job has not started, or ran before job logs were kept)")
        }
    }

    /// Unbuffered: a follower reading through a pipe sees each line as it comes.
    private func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
}
