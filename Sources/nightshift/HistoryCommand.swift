import ArgumentParser
import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftEngine
import PostgresClient

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Recent batch runs and their jobs: state, rows, duration, attempts, errors.",
        discussion: """
            Times and durations are on the runner's clock (simulated when the runner ran with --at/--speed). A cancelled run \
            (its request cancelled before any job started) says who cancelled it. A batch run that cannot be read (a state \
            this NightShift does not know) is shown as an error naming its row, the others as usual, and the command exits 1.
            """
    )

    @OptionGroup var options: GlobalOptions
    @Option(help: "How many batch runs to show (newest first).") var limit: Int = 10
    @Flag(help: "Print JSON instead of text.") var json = false

    func validate() throws {
        guard (1...1000).contains(limit) else { throw ValidationError("--limit \(limit) must be from 1 to 1000") }
    }

    struct Entry: Codable {
        struct Job: Codable {
            let job: String
            let priority: Int
            let state: String
            let rows: Int
            let seconds: Double
            let attempts: Int
            let error: String?
            let skipReason: String?
            let note: String?
        }
        let batchRun: Int
        let batch: String
        let businessDate: String
        let scheduledFor: String
        let runNumber: Int
        let trigger: String
        let state: String
        /// Why it ended as it did, when its last transition says (a cancelled run: who cancelled it).
        let endReason: String?
        let startedAt: String
        let finishedAt: String?
        let seconds: Double?
        let summary: String?
        let jobs: [Job]
    }

    func run() throws {
        let configuration = try loadConfiguration(options)
        let zone = configuration.settings.timeZone
        let db = try PostgresConnection(conninfo: connectionString(options, configuration.settings))
        defer { db.close() }
        let loaded = try BatchHistory.recent(db: db, limit: limit)
        let entries: [Result<Entry, RowDecodingError>] = loaded.map { result in result.map { report in
            Entry(batchRun: report.batchRunID, batch: report.batch.rawValue, businessDate: report.businessDate.description,
                  scheduledFor: report.scheduledFor.iso8601(in: zone), runNumber: report.runNumber, trigger: report.trigger,
                  state: report.state.rawValue, endReason: report.state == .cancelled ? report.endReason : nil,
                  startedAt: report.startedAt.iso8601(in: zone),
                  finishedAt: report.finishedAt?.iso8601(in: zone),
                  seconds: report.finishedAt.map { $0.timeIntervalSince(report.startedAt) }, summary: report.summary?.path,
                  jobs: report.jobs.map {
                      Entry.Job(job: $0.job.name, priority: $0.job.priority.rawValue, state: $0.state.rawValue, rows: $0.rows,
                                seconds: $0.seconds, attempts: $0.attempts, error: $0.failure?.description, skipReason: $0.skipReason,
                                note: $0.note)
                  })
        } }
        let unreadable = entries.compactMap { if case let .failure(error) = $0 { error } else { nil } }
        defer {
            for error in unreadable { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
        }
        if json {
            print(try jsonText(entries.compactMap { try? $0.get() }))
            if !unreadable.isEmpty { throw ExitCode(1) }
            return
        }
        if entries.isEmpty { print("no batch runs yet") }
        for result in entries {
            guard case let .success(entry) = result else {
                if case let .failure(error) = result { print("\(error.row): cannot be read (see the error below)") }
                continue
            }
            let duration = entry.seconds.map { " in \(Self.duration($0))" } ?? ""
            let why = entry.endReason.map { " (\($0))" } ?? ""
            print("#\(entry.batchRun) \(entry.batch) \(entry.businessDate) (scheduled \(entry.scheduledFor), run \(entry.runNumber), by \(entry.trigger)): \(entry.state.uppercased())\(why)\(duration)")
            for job in entry.jobs {
                var line = "    \(job.job.padding(toLength: 24, withPad: " ", startingAt: 0)) P\(job.priority)  \(job.state.padding(toLength: max(9, job.state.count), withPad: " ", startingAt: 0))  \(String(job.rows).padding(toLength: 8, withPad: " ", startingAt: 0))  \(Self.duration(job.seconds))"
                if job.attempts > 1 { line += "  (\(job.attempts) attempts)" }
                print(line)
                if let error = job.error { print("        error: \(error)") }
                if let reason = job.skipReason { print("        skipped: \(reason)") }
            }
        }
        if !unreadable.isEmpty { throw ExitCode(1) }
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        return whole < 3600 ? String(format: "%d min %02d s", whole / 60, whole % 60) : String(format: "%d h %02d min", whole / 3600, (whole % 3600) / 60)
    }
}
