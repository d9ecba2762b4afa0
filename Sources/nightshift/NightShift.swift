import ArgumentParser
import Foundation
import Logging

@main
struct NightShift: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nightshift",
        abstract: "The night-window batch runner of the Lucky Gas ERP.",
        discussion: "Configuration lives under --root (default: the current directory, or $NIGHTSHIFT_ROOT): etc/nightshift.yaml (database, paths, export key, mail, limits, batch schedules), etc/windows.yaml (processing windows and priority rules), etc/calendars/*.yaml (Taiwan holidays and make-up workdays), etc/operators.yaml (who may submit and approve requests) and jobs/*.yaml. The database is --database-url, else database.url in etc/nightshift.yaml, else $DATABASE_URL, else the standard PG* variables.",
        subcommands: [CheckCommand.self, MigrateCommand.self, SeedCommand.self, RunCommand.self, PlanCommand.self,
                      CronCommand.self, OverrideCommand.self, SubmitCommand.self, RequestsCommand.self, ApproveCommand.self,
                      RejectCommand.self, CancelCommand.self, ReviewCommand.self, ArchiveCommand.self, MailCommand.self, DeliveriesCommand.self, ReportCommand.self, ApiKeyCommand.self, StatusCommand.self, HistoryCommand.self, LogsCommand.self, ConsoleCommand.self, BackfillCommand.self]
    )
}

/// Options every subcommand shares.
struct GlobalOptions: ParsableArguments {
    @Option(help: "The directory holding etc/, jobs/, sql/ and templates/.")
    var root: String = ProcessInfo.processInfo.environment["NIGHTSHIFT_ROOT"] ?? FileManager.default.currentDirectoryPath

    @Option(help: "A libpq connection URI or conninfo string (overrides the configuration and $DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "Log lines on stderr as text, or as one JSON object each (json) for log collectors.")
    var logFormat: LogFormat = .text

    enum LogFormat: String, ExpressibleByArgument { case text, json }

    var absoluteRoot: String {
        let url = URL(fileURLWithPath: root, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        return url.standardizedFileURL.path
    }

    /// The logger for this process: created here, once, and handed to the engine.
    func makeLogger() -> Logger {
        let format = logFormat
        LoggingSystem.bootstrap { label in
            // Text goes through the terminal, so log lines never overwrite a live progress block.
            format == .json ? JSONLogHandler(label: label) as any LogHandler : TerminalLogHandler(label: label)
        }
        var logger = Logger(label: "nightshift")
        logger.logLevel = logLevel
        return logger
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Prints to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
