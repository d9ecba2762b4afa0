import Foundation
import Logging
import NightShiftConfig
import NightShiftCore
@testable import NightShiftEngine
import PostgresClient
import TestSupport
import XCTest

/// A complete night: a fresh database with the runner schema and seeded ERP data, a throwaway
/// OpenPGP keyring holding the export recipient, and a copy of the project's configuration.
final class NightFixture {
    let database: TestDatabase
    let keyring: ThrowawayKeyring
    let project: ProjectCopy
    let db: PostgresConnection
    static let twoAM = ISO8601DateFormatter().date(from: "2026-11-23T02:00:00+08:00")!

    init(customers: Int = 4000, days: Int = 3, until: String = "2026-11-22") throws {
        database = try TestDatabase()
        keyring = try ThrowawayKeyring()
        project = try ProjectCopy()
        try project.configure(keyring: keyring.home, recipient: keyring.email)
        db = try database.connect()
        try Migrator(set: "runner", directory: "\(project.root)/sql/runner").apply(on: db)
        _ = try Seeder(sqlDirectory: "\(project.root)/sql").seed(on: db, customers: customers, days: days, seed: 7,
                                                                  until: LocalDate(iso: until)!)
    }

    func configuration() throws -> Configuration { try Configuration.load(root: project.root) }

    /// Runs the daily batch at `instant` to its end (`run --once`; a rerun when it ran before).
    func run(_ batch: BatchKind = .daily, at instant: Date = NightFixture.twoAM, speed: Double = 1) throws -> BatchReport {
        var logger = Logger(label: "test")
        logger.logLevel = ProcessInfo.processInfo.environment["NIGHTSHIFT_TEST_LOG"] == nil ? .critical : .info
        let url = database.url
        let runner = BatchRunner(configuration: try configuration(), connect: { try PostgresConnection(conninfo: url) }, logger: logger)
        return try waitFor { try await runner.run(batch: batch, at: instant, trigger: "test", rerun: true, speed: speed).report }
    }

    /// What a runner's services share, on a clock starting at `now` (logs only with NIGHTSHIFT_TEST_LOG).
    func runnerContext(_ name: String = "test", at now: Date = NightFixture.twoAM) throws -> RunnerContext {
        var logger = Logger(label: name)
        logger.logLevel = ProcessInfo.processInfo.environment["NIGHTSHIFT_TEST_LOG"] == nil ? .critical : .info
        let url = database.url
        return RunnerContext(configuration: try configuration(), connect: { try PostgresConnection(conninfo: url) },
                             clock: RunnerClock(start: now, speed: 1), identity: RunnerIdentity(host: name),
                             logger: logger)
    }

    func scalar(_ sql: String, _ parameters: [String?] = []) throws -> String? {
        try db.execute(sql, parameters).string(0, 0)
    }

    func count(_ sql: String, _ parameters: [String?] = []) throws -> Int {
        Int(try scalar(sql, parameters) ?? "") ?? -1
    }

    func tearDown() {
        db.close()
        database.drop()
        keyring.remove()
        project.cleanup()
    }
}

/// Waits on this (test) thread for async work, which runs on Swift's pool.
func waitFor<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: Result<T, Error>?
    Task {
        do { result = .success(try await work()) } catch { result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try result!.get()
}
