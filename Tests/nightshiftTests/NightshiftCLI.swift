import Foundation
import TestSupport
import XCTest

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

/// A test case with its own copy of the project, running `nightshift … --root COPY` as an operator would.
class CommandLineTestCase: XCTestCase {
    var project: ProjectCopy!

    override func setUpWithError() throws {
        project = try ProjectCopy()
        try project.keepOnlyCoreJobs()
    }
    override func tearDown() { project?.cleanup() }

    func nightshift(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessOutput {
        try runProcess([try nightshiftBinary()] + arguments + ["--root", project.root], environment: environment)
    }
}
