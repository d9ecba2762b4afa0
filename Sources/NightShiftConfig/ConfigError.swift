/// One problem in a configuration file: where it is, what is wrong, and how to fix it.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    /// Dotted key path, e.g. `export.rows_per_file`; empty for the file as a whole.
    public let key: String
    public let problem: String
    public let fix: String

    public init(file: String, line: Int?, key: String, problem: String, fix: String) {
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        let subject = key.isEmpty ? "" : "\(key): "
        return "\(location): \(subject)\(problem). Fix: \(fix)"
    }
}

/// Collects every problem found while reading, so `nightshift check` can report them all at once.
public final class Diagnostics {
    public private(set) var errors: [ConfigError] = []
    public init() {}
    public func add(_ error: ConfigError) { errors.append(error) }
}

/// Thrown when a configuration cannot be used; carries every problem found.
public struct ConfigurationInvalid: Error, CustomStringConvertible, Sendable {
    public let errors: [ConfigError]
    public var description: String {
        "configuration has \(errors.count) error\(errors.count == 1 ? "" : "s"):\n" + errors.map { "  " + $0.description }.joined(separator: "\n")
    }
}
