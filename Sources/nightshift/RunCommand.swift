import ArgumentParser
import Foundation
import Logging
import Metrics
import NightShiftAPI
import NightShiftConfig
import NightShiftConsole
import NightShiftCore
import NightShiftEngine
import Packaging
import PostgresClient
import Prometheus

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the runner service (fires the schedules until stopped), or one batch with --once.",
        discussion: """
            Without --once, the runner stays up: the leader among all runners sharing the database fires \
            every batch of `batches:` (cron, holiday and misfire policies), and every runner claims ready \
            jobs under a lease, runs them with checkpoints, rescues jobs whose runner died and writes the \
            summaries; at mail.morning it writes the night's mail (Sundays also the week's operations \
            report), raises alerts to mail.on_call, delivers the mail outbox through mail.smtp, purges \
            history past retention:, serves /metrics on metrics.listen and the web console on console.listen \
            (a runner that finds that address taken goes on without it). SIGTERM or SIGINT stops it gracefully (jobs stop at their next checkpoint and are \
            released for resumption; exit 0); a second signal exits at once.

            What starts, pauses and waits is decided as `plan` decides it: a job starts only where its \
            window lets its priority start; a calculation pauses at a checkpoint when its window stops \
            allowing it, or for a P1 job when no slot is free, and resumes from it; locks, \
            limits.max_concurrent_batches, the load (P4) and the exports volume are checked before each \
            start. Each runner has limits.concurrent_jobs job slots; `nightshift status` says why a job waits.

            --at T0 starts the runner's clock at T0; --speed N makes it run N times faster than real time; \
            --until T1 stops the runner when its clock reaches T1. Example, a whole simulated night:
              nightshift run --at 2026-11-23T01:59:00+08:00 --speed 600 --until 2026-11-23T07:00:00+08:00

            With --once, the batch occurrence at --at (default: now) is created if needed and run to its \
            end; if another runner is running it, this one joins it (no job runs twice) and waits. A batch \
            that already ended is not run again unless --rerun is given. --once is a person starting work: \
            their operating-system account must be a manager or above in etc/operators.yaml (audited). It prints \
            a line per job state change (on a terminal also a live line per running job: rows, %, rows/s, \
            ETA), tries to send its mail before it exits, and writes metrics.textfile. Exit status: 0 when every job \
            succeeded, 1 when any failed, timed out or was skipped (or the run was interrupted), 2 for \
            configuration errors.
            """
    )

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Run one batch occurrence to its end and exit.") var once = false
    @Option(help: "Start the runner's clock at this instant (ISO 8601 with offset); default: now.") var at: String?
    @Option(help: "How many times faster than real time the runner's clock runs.") var speed: Double = 1
    @Option(help: "Stop when the runner's clock reaches this instant (ISO 8601 with offset).") var until: String?
    @Option(help: "With --once: which batch (daily, weekly, monthly, yearend).") var batch: String = "daily"
    @Flag(help: "With --once: run the occurrence again even if it already ended (a new run number).") var rerun = false

    func validate() throws {
        if let at, parseInstant(at) == nil {
            throw ValidationError("--at \(at) is not an ISO 8601 instant; write e.g. 2026-11-23T02:00:00+08:00")
        }
        if let until, parseInstant(until) == nil {
            throw ValidationError("--until \(until) is not an ISO 8601 instant; write e.g. 2026-11-23T07:00:00+08:00")
        }
        if let until = until.flatMap(parseInstant), until <= (at.flatMap(parseInstant) ?? Date()) {
            throw ValidationError("--until \(until) must be later than --at (or now)")
        }
        guard speed > 0, speed <= 100_000 else {
            throw ValidationError("--speed \(speed) must be greater than 0 and at most 100000")
        }
        guard BatchKind(rawValue: batch) != nil else {
            throw ValidationError("--batch \(batch) is not one of \(BatchKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if !once && (rerun || batch != "daily") {
            throw ValidationError("--batch and --rerun go with --once; the service runs every batch by its schedule")
        }
    }

    func run() async throws {
        let logger = options.makeLogger()
        let configuration = try loadConfiguration(options)
        let conninfo = connectionString(options, configuration.settings)
        let connect: @Sendable () throws -> PostgresConnection = { try PostgresConnection(conninfo: conninfo) }
        let instant = at.flatMap(parseInstant)
        let end = until.flatMap(parseInstant)
        // A person starting a batch by hand passes the database's gate first, as their own login (on
        // a database without the schema yet, after the runner's login has created it).
        if once {
            do {
                try authorizeOnce(configuration: configuration)
            } catch let error as PostgresError where ["42501", "42883", "42P01", "3F000"].contains(error.sqlState ?? "") {
                try migrate(configuration: configuration, connect: connect, logger: logger, waitForDatabase: false)
                do {
                    try authorizeOnce(configuration: configuration)
                } catch let error as PostgresError where error.sqlState == "42501" {
                    printError("error: the database role \(OperatorIdentity.processAccount()) may not call NightShift's request functions "
                               + "(\(error.message)); an administrator grants it nightshift_requester (README, Requests)")
                    throw ExitCode(1)
                }
            }
        }
        try migrate(configuration: configuration, connect: connect, logger: logger, waitForDatabase: !once)
        let registry = bootstrapMetrics()

        if once {
            let kind = BatchKind(rawValue: batch)!
            // Live progress of this batch run's jobs (a terminal: redrawn in place; piped: a line per change).
            let followed = FollowedBatch()
            let monitor = ProgressMonitor(connect: connect, batchRunID: { followed.id ?? -1 })
            monitor.start()
            let outcome: (report: BatchReport, start: BatchRunner.Start)
            do {
                let stop = StopHandle()
                outcome = try await BatchRunner(configuration: configuration, connect: connect, logger: logger)
                    .run(batch: kind, at: instant ?? Date(), trigger: "cli", rerun: rerun, speed: speed, until: end,
                         alongside: [SignalService(stop: stop, logger: logger)],
                         onRunner: { runner in
                             followed.id = runner.batchRunID
                             stop.attach(runner)
                         })
                monitor.stop()
            } catch {
                monitor.stop()
                throw error
            }
            switch outcome.start {
            case .created: break
            case let .joined(holders):
                print("this occurrence was already running (held by \(holders.isEmpty ? "no live runner" : holders.joined(separator: ", "))); joined it and waited for its end")
            case .alreadyEnded:
                print("this occurrence already ran (run #\(outcome.report.batchRunID), run number \(outcome.report.runNumber)): nothing was run; pass --rerun to run it again")
            }
            printReport(outcome.report, smtpConfigured: configuration.settings.mail.smtp != nil)
            if let textfile = configuration.settings.metrics?.textfile {
                do {
                    try writeTextfile(textfile, registry: registry, connect: connect)
                    print("metrics: \(textfile)")
                } catch {
                    printError("warning: the metrics textfile \(textfile) was not written: \(error)")
                }
            }
            if !outcome.report.succeeded || outcome.report.summary == nil { throw ExitCode(1) }
            return
        }

        // The HTTP trigger and /metrics, when configured, listen before the runner starts and are
        // stopped by the service group after it.
        var api: APIServer?
        if let settings = configuration.settings.api {
            let server = APIServer(settings: settings, configuration: configuration, connect: connect, logger: logger)
            do { try await server.start() } catch {
                printError("error: the HTTP trigger cannot listen on \(settings.host):\(settings.port) (api.listen): \(error)")
                throw ExitCode(1)
            }
            api = server
        }
        var metricsServer: MetricsServer?
        if let metrics = configuration.settings.metrics, let host = metrics.host, let port = metrics.port {
            let server = MetricsServer(host: host, port: port, registry: registry, logger: logger)
            do { try await server.start() } catch {
                printError("error: the metrics cannot be served on \(host):\(port) (metrics.listen): \(error)")
                throw ExitCode(1)
            }
            metricsServer = server
        }
        // The console shows the runner's clock, which starts below with the runner.
        let runnerClock = ClockHolder()
        var console: ConsoleServer?
        if let settings = configuration.settings.console {
            let templates: ConsoleTemplates
            do { templates = try ConsoleTemplates(directory: configuration.settings.templatesDirectory) } catch {
                printError("error: \(error)")
                throw ExitCode(2)
            }
            let server = ConsoleServer(settings: settings, configuration: configuration, templates: templates, connect: connect,
                                       clock: { runnerClock.now() }, logger: logger)
            do {
                try await server.start()
                console = server
                logger.notice("console: \(settings.url)/ (a person acts after `nightshift console login`)")
            } catch {
                // Several runners on one host share the address: one of them serves the console.
                await server.stop()
                logger.warning("the console is not served by this runner: \(settings.host):\(settings.port) (console.listen) cannot be used (\(error)); another runner on this machine may serve it")
            }
        }
        let servers = [api.map { api in ListeningServer(stop: { await api.stop() }) },
                       metricsServer.map { metrics in ListeningServer(stop: { await metrics.stop() }) },
                       console.map { console in ListeningServer(stop: { await console.stop() }) }].compactMap { $0 }
        // The clock starts now, with the runner: --at is the instant it reads at its start.
        let clock = RunnerClock(start: instant, speed: speed)
        runnerClock.set(clock)
        let runner = Runner(configuration: configuration, connect: connect, clock: clock, logger: logger, mode: .service,
                            until: end, notifier: SystemdNotifier())
        let stop = StopHandle()
        stop.attach(runner)
        // Signals and servers first in the runner's one service group: they are stopped after its parts.
        try await runner.run(alongside: [SignalService(stop: stop, logger: logger)] + servers)
        print("runner stopped: \(runner.stopReason)")
    }

    /// `run --once` is a person starting work: the same gate as every person's action, decided by
    /// the database for the person's own login (a manager or above; in production, refused: work
    /// starts through an approved request), audited either way. (The service itself, started by
    /// systemd, is not a person's request and needs no role.)
    func authorizeOnce(configuration: Configuration) throws {
        let command = (["nightshift"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        let db: PostgresConnection
        do {
            db = try personConnection(options, configuration)
        } catch {
            printError("error: \(error)")
            printError("(run --once logs in as your operating-system account, \(OperatorIdentity.processAccount()), to check who you are; see README, Requests)")
            throw ExitCode(1)
        }
        defer { db.close() }
        let (_, refusal) = try RequestStore(db: db).authorize(.runOnce, detail: "run --once of the \(batch) batch",
                                                              host: OperatorIdentity.current().description, command: command)
        if let refusal {
            printError("refused: \(refusal)")
            throw ExitCode(1)
        }
    }

    /// Applies pending runner migrations. The service waits for an unreachable database (with
    /// back-off) instead of exiting; `--once` reports it and exits.
    func migrate(configuration: Configuration, connect: () throws -> PostgresConnection, logger: Logger, waitForDatabase: Bool) throws {
        var delay = 1.0
        while true {
            do {
                let db = try connect()
                defer { db.close() }
                try prepareRunnerSchema(configuration, db: db)
                return
            } catch let error as PostgresError where error.isTransient && waitForDatabase {
                logger.warning("database unavailable; retrying", metadata: ["error": "\(error)", "in_seconds": "\(delay)"])
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 30)
            }
        }
    }

    func printReport(_ report: BatchReport, smtpConfigured: Bool) {
        let zone = TimeZone(identifier: "Asia/Taipei")!
        print("\(report.batch.rawValue) batch for \(report.businessDate) (run #\(report.batchRunID), scheduled \(report.scheduledFor.iso8601(in: zone))): \(report.state.rawValue.uppercased())")
        let width = max(4, report.jobs.map(\.job.name.count).max() ?? 4)
        print("  " + "job".padding(toLength: width, withPad: " ", startingAt: 0) + "  prio  state      rows       seconds")
        for job in report.jobs {
            let name = job.job.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let state = job.state.rawValue.padding(toLength: max(9, job.state.rawValue.count), withPad: " ", startingAt: 0)
            let rows = String(job.rows).padding(toLength: 9, withPad: " ", startingAt: 0)
            print("  \(name)  \(job.job.priority)    \(state)  \(rows)  \(String(format: "%.2f", job.seconds))")
            if let failure = job.failure { print("      error: \(failure)") }
            if let reason = job.skipReason { print("      skipped: \(reason)") }
            if let note = job.note { print("      note: \(note)") }
            for output in job.outputs { print("      output: \(output.path)") }
        }
        if report.state == .running { print("the batch has not ended: its released jobs resume when a runner runs it again") }
        if let summary = report.summary { print("summary message: \(summary.path)") }
        if report.summary != nil, report.summaryMail == nil {
            print("summary mail: none of its own for this batch (mail.batches.\(report.batch.rawValue).own_mail); the night's mail at mail.morning covers it")
        }
        if let mail = report.summaryMail {
            switch mail.state {
            case .sent:
                print("summary mail #\(mail.id): sent to \(mail.recipients.joined(separator: ", "))\(mail.lastReply.map { " (the server: \($0))" } ?? "")")
                if let refused = mail.lastError { print("    but \(refused): correct the address in etc/nightshift.yaml (mail:)") }
            case .queued, .sending:
                let why = mail.lastError.map { " (\(mail.attempts) attempt\(mail.attempts == 1 ? "" : "s"): \($0))" }
                    ?? (smtpConfigured ? "" : " (no SMTP server is configured: mail.smtp in etc/nightshift.yaml)")
                print("summary mail #\(mail.id): in the outbox, not sent yet\(why); the running service delivers it")
            case .dead:
                print("summary mail #\(mail.id): NOT delivered, a dead letter: \(mail.lastError ?? "")  (nightshift mail retry \(mail.id) sends it again)")
            }
        }
        if let error = report.summaryError, report.summary == nil { print("summary message NOT written: \(error)") }
    }
}

/// The batch run `run --once` follows, known once its runner exists (read by the progress thread).
final class FollowedBatch: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int?
    var id: Int? {
        get { lock.lock(); defer { lock.unlock() }; return value }
        set { lock.lock(); value = newValue; lock.unlock() }
    }
}

/// Makes Prometheus the backend of the engine's swift-metrics calls (once per process), with
/// histogram buckets that fit batch work: a second to eight hours.
func bootstrapMetrics() -> PrometheusCollectorRegistry {
    let registry = PrometheusCollectorRegistry()
    var factory = PrometheusMetricsFactory(registry: registry)
    factory.defaultDurationHistogramBuckets = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400, 28_800].map { .seconds($0) }
    MetricsSystem.bootstrap(factory)
    return registry
}

/// Samples the gauges and writes the registry as a node-exporter textfile: to a temporary name
/// beside it, then renamed, so the collector never reads half a file.
func writeTextfile(_ path: String, registry: PrometheusCollectorRegistry, connect: () throws -> PostgresConnection) throws {
    let db = try connect()
    defer { db.close() }
    try RunnerMetrics.sample(db: db)
    try PrivateFiles.makeDirectory((path as NSString).deletingLastPathComponent)
    // Read by the node exporter's account: world-readable, like the metrics endpoint's text.
    try PrivateFiles.write(Data(registry.emitToBuffer()), to: path, mode: 0o644)
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
