import Foundation
import TestSupport

/// The `nightshift` binary next to the test bundle.
func nightshiftBinary() throws -> String {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("nightshift").path,
        URL(fileURLWithPath: repositoryRoot()).appendingPathComponent(".build/debug/nightshift").path,
    ]
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw TestSetupError("nightshift binary not found in \(candidates); run swift build first")
    }
    return found
}

/// Runs `nightshift ARGUMENTS --root PROJECT` as an operator would.
func nightshift(_ arguments: [String], in project: ProjectCopy, environment: [String: String] = [:]) throws -> ProcessOutput {
    try runProcess([try nightshiftBinary()] + arguments + ["--root", project.root], environment: environment)
}
