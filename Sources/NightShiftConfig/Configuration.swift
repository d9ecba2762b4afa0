import Foundation
import NightShiftCore

/// Everything NightShift reads from `etc/` and `jobs/`, validated.
public struct Configuration: Sendable {
    public let settings: RunnerSettings
    public let jobs: [JobDefinition]
    /// Processing windows with the calendar and time zone.
    public let windows: WindowSet
    public let priorityPolicy: PriorityPolicy
    /// Who may ask for work (etc/operators.yaml), the quota, and approval in production.
    public let requestPolicy: RequestPolicy
    /// Things an operator should know that do not stop the runner (provisional or ending calendars).
    public let warnings: [String]

    /// How long published files are kept: `retention.outputs` by kind, each job's own over it.
    public var outputRetention: OutputRetention {
        OutputRetention(byKind: settings.keepOutputs,
                        byJob: Dictionary(jobs.compactMap { job in job.keepOutputs.map { (job.name, $0) } }, uniquingKeysWith: { a, _ in a }))
    }

    /// Loads and validates everything, collecting every problem. Returns the configuration only
    /// when there are none.
    public static func check(root: String) -> (configuration: Configuration?, errors: [ConfigError]) {
        let diagnostics = Diagnostics()
        guard let settings = RunnerSettings.read(root: root, diagnostics: diagnostics) else {
            // Still check the other files, so one `check` reports everything.
            _ = CalendarFile.readAll(root: root, diagnostics: diagnostics)
            _ = WindowsFile.read(root: root, diagnostics: diagnostics)
            return (nil, diagnostics.errors)
        }
        var jobs: [JobDefinition] = []
        var files: [String: String] = [:]
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: settings.jobsDirectory)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        if names.isEmpty {
            diagnostics.add(ConfigError(file: settings.jobsDirectory, line: nil, key: "", problem: "no job files (*.yaml) found",
                                        fix: "add at least one job file or correct paths.jobs in etc/nightshift.yaml"))
        }
        var unreadable: Set<String> = []
        for name in names {
            let display = "jobs/\(name)"
            let stem = (name as NSString).deletingPathExtension
            if let job = JobFile.read(path: "\(settings.jobsDirectory)/\(name)", displayPath: display,
                                      settings: settings, diagnostics: diagnostics) {
                if let other = files[job.name] {
                    diagnostics.add(ConfigError(file: display, line: nil, key: "name", problem: "job \(job.name) is also defined in \(other)",
                                                fix: "give each job a unique name"))
                    continue
                }
                files[job.name] = display
                jobs.append(job)
            } else {
                unreadable.insert(stem)
            }
        }
        for problem in DependencyGraph.problems(in: jobs) {
            let file: String
            switch problem {
            case let .unknownDependency(_, missing) where unreadable.contains(missing):
                continue // its own file's errors are already reported
            case let .unknownDependency(job, _): file = files[job] ?? "jobs/"
            case let .cycle(path): file = path.first.flatMap { files[$0] } ?? "jobs/"
            }
            diagnostics.add(ConfigError(file: file, line: nil, key: "depends_on", problem: "\(problem)".components(separatedBy: "; ").first!,
                                        fix: "\(problem)".components(separatedBy: "; ").dropFirst().joined(separator: "; ")))
        }
        for (name, line) in settings.mail.jobLines.sorted(by: { $0.key < $1.key }) where files[name] == nil && !unreadable.contains(name) {
            diagnostics.add(ConfigError(file: "etc/nightshift.yaml", line: line, key: "mail.jobs.\(name)", problem: "there is no job \(name)",
                                        fix: "name a job of jobs/ (\(files.keys.sorted().prefix(5).joined(separator: ", "))…), or remove it"))
        }
        let calendar = CalendarFile.readAll(root: root, diagnostics: diagnostics)
        let windowsFile = WindowsFile.read(root: root, diagnostics: diagnostics)
        guard diagnostics.errors.isEmpty, let windowsFile else { return (nil, diagnostics.errors) }
        var warnings: [String] = []
        for year in calendar.years.values.sorted(by: { $0.year < $1.year }) where year.provisional {
            warnings.append("etc/calendars: the \(year.year) calendar is provisional (\(year.source)); verify it against the official calendar and set `provisional: false`")
        }
        if calendar.years.isEmpty {
            warnings.append("etc/calendars: no holiday calendar is configured; every date is treated by its weekday alone")
        }
        let requestPolicy = OperatorsFile.read(root: root, production: settings.isProduction, diagnostics: diagnostics, warnings: &warnings)
        guard diagnostics.errors.isEmpty else { return (nil, diagnostics.errors) }
        let windows = WindowSet(windows: windowsFile.windows, allowed: windowsFile.allowed, calendar: calendar, zone: settings.timeZone)
        return (Configuration(settings: settings, jobs: jobs.sorted { $0.name < $1.name }, windows: windows,
                              priorityPolicy: windowsFile.policy, requestPolicy: requestPolicy, warnings: warnings), [])
    }

    /// Loads the configuration or throws every problem found.
    public static func load(root: String) throws -> Configuration {
        let (configuration, errors) = check(root: root)
        guard let configuration else { throw ConfigurationInvalid(errors: errors) }
        return configuration
    }

    public func jobs(in batch: BatchKind) -> [JobDefinition] { jobs.filter { $0.batch == batch } }

    public func schedule(_ batch: BatchKind) -> BatchSchedule { settings.schedules[batch] ?? BatchSchedule.defaults(batch) }

    /// Warnings for dates within `days` of `from` that no calendar covers (so the calendar never
    /// runs out silently at year end).
    public func calendarCoverageWarnings(from: Date, days: Int = 60) -> [String] {
        let today = LocalDate(from, in: settings.timeZone)
        guard let firstUncovered = (0...days).lazy.map({ today.adding(days: $0) }).first(where: { !windows.calendar.covers($0) }) else { return [] }
        let through = windows.calendar.coveredThrough.map { "end on \($0)" } ?? "are missing"
        return ["etc/calendars: holiday calendars \(through); \(firstUncovered) is \(firstUncovered.dayNumber - today.dayNumber) days away. Add etc/calendars/tw-\(firstUncovered.year).yaml before then"]
    }

    /// Reads a SQL file named relative to `sql/` (never one outside it).
    public func sql(_ relative: String) throws -> String {
        let file = "sql/\(relative)"
        let path = try ConfigText.inside(settings.sqlDirectory, relative).mapError {
            ConfigurationInvalid(errors: [ConfigError(file: file, line: nil, key: "", problem: $0.problem, fix: $0.fix)])
        }.get()
        return try ConfigText.read(path).mapError {
            ConfigurationInvalid(errors: [ConfigError(file: file, line: $0.line, key: "", problem: $0.problem, fix: $0.fix)])
        }.get()
    }
}
