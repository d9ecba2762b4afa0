import Foundation
import NightShiftCore

/// Everything NightShift reads from `etc/` and `jobs/`, validated.
public struct Configuration: Sendable {
    public let settings: RunnerSettings
    public let jobs: [JobDefinition]

    /// Loads and validates everything, collecting every problem. Returns the configuration only
    /// when there are none.
    public static func check(root: String) -> (configuration: Configuration?, errors: [ConfigError]) {
        let diagnostics = Diagnostics()
        guard let settings = RunnerSettings.read(root: root, diagnostics: diagnostics) else {
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
        guard diagnostics.errors.isEmpty else { return (nil, diagnostics.errors) }
        return (Configuration(settings: settings, jobs: jobs.sorted { $0.name < $1.name }), [])
    }

    /// Loads the configuration or throws every problem found.
    public static func load(root: String) throws -> Configuration {
        let (configuration, errors) = check(root: root)
        guard let configuration else { throw ConfigurationInvalid(errors: errors) }
        return configuration
    }

    public func jobs(in batch: BatchKind) -> [JobDefinition] { jobs.filter { $0.batch == batch } }

    /// Reads a SQL file named relative to `sql/`.
    public func sql(_ relative: String) throws -> String {
        try String(contentsOfFile: "\(settings.sqlDirectory)/\(relative)", encoding: .utf8)
    }
}
