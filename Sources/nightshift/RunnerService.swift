import Foundation
import Logging
import NightShiftEngine
import ServiceLifecycle
import UnixSignals

/// Runs a blocking runner (its own threads; libpq blocks) as a swift-service-lifecycle `Service`:
/// the group's graceful shutdown becomes `Runner.requestStop`, and the service ends when the
/// runner has released its work and closed its connections.
struct RunnerService: Service {
    let start: @Sendable (StopHandle) throws -> Void
    let stop: StopHandle

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let thread = Thread { [start, stop] in
                    do {
                        try start(stop)
                        continuation.resume()
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
                thread.name = "nightshift-runner"
                thread.start()
            }
        } onGracefulShutdown: {
            stop.requestStop("graceful shutdown")
        }
    }
}

/// SIGTERM or SIGINT: stop gracefully (jobs stop at their next checkpoint and are released).
/// A second one: exit at once (still safe: every committed chunk is checkpointed, and the
/// leases of the jobs left behind expire and are rescued).
struct SignalService: Service {
    let stop: StopHandle
    let logger: Logger

    func run() async throws {
        var received = 0
        for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint).cancelOnGracefulShutdown() {
            received += 1
            if received == 1 {
                logger.notice("received \(signal): stopping gracefully (send it again to exit at once)")
                stop.requestStop("received \(signal)")
            } else {
                logger.warning("received \(signal) again: exiting at once")
                exit(signal == .sigint ? 130 : 143)
            }
        }
    }
}

/// Lets a stop request reach a runner that may not exist yet (it is created once the occurrence
/// is known); a request made before is delivered when it attaches.
final class StopHandle: @unchecked Sendable {
    private let lock = NSLock()
    private var runner: Runner?
    private var pending: String?

    func attach(_ runner: Runner) {
        lock.lock()
        self.runner = runner
        let reason = pending
        lock.unlock()
        if let reason { runner.requestStop(reason) }
    }

    func requestStop(_ reason: String) {
        lock.lock()
        if pending == nil { pending = reason }
        let runner = self.runner
        lock.unlock()
        runner?.requestStop(reason)
    }

    var requested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return pending != nil
    }
}

/// A server that already listens (started before the group, so a port that cannot be bound stops
/// the command before any work starts): the group stops it at its graceful shutdown, after the
/// runner (services shut down in reverse order), so the trigger and /metrics answer until the
/// runner has released its work.
struct ListeningServer: Service {
    let stop: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await stop()
    }
}

/// Runs `body` (which blocks) with SIGTERM/SIGINT handling and the `servers` as one service group,
/// and returns its result.
func runAsService<T: Sendable>(logger: Logger, servers: [ListeningServer] = [],
                               _ body: @escaping @Sendable (StopHandle) throws -> T) async throws -> T {
    let stop = StopHandle()
    let box = ResultBox<T>()
    let runner = RunnerService(start: { handle in box.set(try body(handle)) }, stop: stop)
    let group = ServiceGroup(configuration: .init(services: servers.map { .init(service: $0) } + [
        .init(service: runner, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
        .init(service: SignalService(stop: stop, logger: logger)),
    ], logger: logger))
    try await group.run()
    return try box.get()
}

final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T?

    func set(_ value: T) {
        lock.lock()
        self.value = value
        lock.unlock()
    }

    func get() throws -> T {
        lock.lock()
        defer { lock.unlock() }
        guard let value else { throw CancellationError() }
        return value
    }
}
