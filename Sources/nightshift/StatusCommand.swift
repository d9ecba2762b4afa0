import ArgumentParser
import Foundation
import NightShiftConfig
import NightShiftEngine
import PostgresClient

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "What runs now (progress, rows per second, ETA), what waits and why, the runners, the mail outbox, deliveries, alerts, anything stuck.",
        discussion: """
            Progress is written by each runner at every checkpoint and heartbeat, so it is at most one \
            heartbeat (runner.heartbeat_seconds, default 5 s) old. The expected total is the rows of the \
            job's last successful run. A runner whose heartbeat is older than its lease is shown as lost. \
            --watch keeps following the running batches (a line per job state change; on a terminal, live \
            progress lines) until Ctrl-C. Rows that cannot be read (a state this NightShift does not know, \
            written by hand or by another version) are listed under "needs a look", naming the table, the \
            row, the column and the value; the runner leaves them alone, and status then exits 1.
            """
    )

    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print JSON instead of text.") var json = false
    @Flag(help: "Keep watching the running batches: on a terminal a live line per running job (rows, %, rows/s, ETA); piped, a line per job state change. Ctrl-C stops.")
    var watch = false
    @Option(help: "Seconds between looks with --watch.") var interval: Double = 0.5

    func validate() throws {
        if watch && json { throw ValidationError("--watch prints lines as jobs change; --json prints the status once") }
        if interval < 0.25 || interval > 60 { throw ValidationError("--interval \(interval): give 0.25 to 60 seconds") }
    }

    func run() throws {
        let configuration = try loadConfiguration(options)
        if watch {
            let conninfo = connectionString(options, configuration.settings)
            watchRunningBatches(connect: { try PostgresConnection(conninfo: conninfo) })
        }
        let db = try PostgresConnection(conninfo: connectionString(options, configuration.settings))
        defer { db.close() }
        let status = try RunnerStatus.load(db: db, leaseSeconds: configuration.settings.service.leaseSeconds,
                                           zone: configuration.settings.timeZone, smtpServer: configuration.settings.mail.smtp?.url)
        if json {
            print(try jsonText(status))
            if !status.needsALook.isEmpty { throw ExitCode(1) }
            return
        }
        print("status at \(status.at)")
        print(status.running.isEmpty ? "running: nothing" : "running:")
        for job in status.running {
            var line = "  \(job.job) [P\(job.priority)] \(job.batch) \(job.businessDate), attempt \(job.attempt), on \(job.runner)"
            if let done = job.processed {
                line += ": \(done)"
                if let total = job.expectedTotal { line += " / ~\(total) rows" + (job.percent.map { String(format: " (%.0f%%)", $0) } ?? "") }
                else { line += " rows" }
                if let rate = job.rowsPerSecond { line += String(format: ", %.0f rows/s", rate) }
                if let eta = job.etaSeconds { line += ", ETA \(Int(eta.rounded())) s" }
                if let age = job.progressAgeSeconds { line += String(format: " (as of %.0f s ago)", age) }
            } else {
                line += ": started, no progress reported yet"
            }
            print(line)
        }
        print(status.waiting.isEmpty ? "waiting: nothing" : "waiting:")
        for job in status.waiting {
            print("  \(job.job) [P\(job.priority)] \(job.batch) (\(job.state)): \(job.why)")
        }
        print(status.runners.isEmpty ? "runners: none" : "runners:")
        for runner in status.runners {
            print("  \(runner.id)  \(runner.state)\(runner.leader ? " (leader)" : "")  \(runner.mode), \(runner.workers) worker\(runner.workers == 1 ? "" : "s"), "
                  + String(format: "heartbeat %.1f s ago", runner.heartbeatAgeSeconds) + ", clock \(runner.clock)")
        }
        if !status.requests.isEmpty {
            print("requests:")
            for request in status.requests { print("  #\(request.id) \(request.what) by \(request.requestedBy): \(request.situation)") }
        }
        if let mail = status.mail {
            var line = "mail: \(mail.queued) queued, \(mail.sending) sending, \(mail.sent) sent, \(mail.dead) dead"
            line += mail.server.map { " (through \($0))" } ?? " (no SMTP server configured: mail.smtp)"
            if let since = mail.oldestWaitingSince { line += ", the oldest waiting since \(since)" }
            print(line)
            for letter in mail.letters {
                var text = "  #\(letter.id) \(letter.state) \"\(letter.subject)\", \(letter.attempts) attempt\(letter.attempts == 1 ? "" : "s")"
                if let next = letter.nextAttemptAt, letter.attempts > 0 { text += ", next at \(next)" }
                if let error = letter.lastError { text += ": \(error)" }
                print(text)
            }
        }
        if let deliveries = status.deliveries {
            print("deliveries: \(deliveries.queued) queued, \(deliveries.sending) sending, \(deliveries.delivered) delivered, \(deliveries.dead) dead")
            for file in deliveries.files {
                var text = "  #\(file.id) \(file.state) \(file.name) → \(file.target), \(file.attempts) attempt\(file.attempts == 1 ? "" : "s")"
                if let next = file.nextAttemptAt, file.attempts > 0 { text += ", next at \(next)" }
                if let error = file.lastError { text += ": \(error)" }
                print(text)
            }
        }
        if !status.alerts.isEmpty {
            print("alerts (last 24 h):")
            for alert in status.alerts {
                print("  #\(alert.id) \(alert.raisedAt) \(alert.subject) [\(alert.mailState.map { "mail \($0)" } ?? "nobody on call: mail.on_call")]")
            }
        }
        if !status.stuck.isEmpty || !status.needsALook.isEmpty {
            print("needs a look:")
            for item in status.stuck { print("  ! \(item)") }
            for item in status.needsALook { print("  ! \(item)") }
        }
        if !status.needsALook.isEmpty { throw ExitCode(1) }
    }
}

extension StatusCommand {
    /// Follows the running batches until SIGINT or SIGTERM (then exits 0).
    func watchRunningBatches(connect: @escaping () throws -> PostgresConnection) -> Never {
        let monitor = ProgressMonitor(connect: connect, batchRunID: { nil }, interval: interval)
        monitor.idleLine = "  (no job is running; Ctrl-C stops watching)"
        monitor.startAtNewest = true
        if Terminal.shared.isInteractive { Terminal.shared.line("watching the running batches (Ctrl-C stops)") }
        monitor.start()
        var sources: [DispatchSourceSignal] = []
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                monitor.stop()
                Foundation.exit(0)
            }
            source.resume()
            sources.append(source)
        }
        while true { withExtendedLifetime(sources) { _ = sleep(3600) } }
    }
}

/// Pretty, key-sorted JSON with snake_case keys.
func jsonText<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
