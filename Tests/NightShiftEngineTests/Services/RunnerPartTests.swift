import Foundation
import Logging
@testable import NightShiftEngine
import ServiceLifecycle
import XCTest

/// The runner's parts in one ServiceGroup: none starts before the gate opens; a stop finishes them
/// one at a time, from the last to the first (the order of a stop), each after the one before it
/// has finished; a runner that stops before it registered starts and finishes nothing.
final class RunnerPartTests: XCTestCase {
    final class Record: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func add(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    }

    /// Returns when told to: the part that ends the group, as the runner's watch does.
    struct Trigger: Service {
        let gate: StartGate
        let registered: Bool
        func run() async throws {
            try await Task.sleep(nanoseconds: 50_000_000)
            gate.open(registered)
            try await Task.sleep(nanoseconds: 50_000_000)
        }
    }

    func parts(_ names: [String], gate: StartGate, record: Record) -> [RunnerPart] {
        names.map { name in
            RunnerPart(name, gate: gate, start: { record.add("start \(name)") }, finish: {
                record.add("finish \(name) begins")
                Thread.sleep(forTimeInterval: 0.02) // a join that takes a moment: the next must wait for it
                record.add("finish \(name) ends")
            })
        }
    }

    func run(registered: Bool) async throws -> [String] {
        let record = Record()
        let gate = StartGate()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let group = ServiceGroup(configuration: .init(
            services: parts(["heartbeat", "workers", "dispatcher"], gate: gate, record: record).map { .init(service: $0) } + [
                .init(service: Trigger(gate: gate, registered: registered), successTerminationBehavior: .gracefullyShutdownGroup),
            ], logger: logger))
        try await group.run()
        return record.all
    }

    func testPartsStartAtTheGateAndFinishInTheReverseOrderOneAfterAnother() async throws {
        let lines = try await run(registered: true)
        XCTAssertEqual(Set(lines.prefix(3)), ["start heartbeat", "start workers", "start dispatcher"])
        XCTAssertEqual(Array(lines.dropFirst(3)), [
            "finish dispatcher begins", "finish dispatcher ends",
            "finish workers begins", "finish workers ends",
            "finish heartbeat begins", "finish heartbeat ends",
        ])
    }

    func testARunnerThatNeverRegisteredStartsAndFinishesNothing() async throws {
        let lines = try await run(registered: false)
        XCTAssertEqual(lines, [])
    }
}
