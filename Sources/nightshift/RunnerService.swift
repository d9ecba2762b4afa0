import Foundation
import Logging
import NightShiftCore
import NightShiftEngine
import ServiceLifecycle
import UnixSignals

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
/// the command before any work starts): the runner's group stops it at its graceful shutdown, after
/// the runner's parts (services shut down in reverse order), so the trigger and /metrics answer
/// until the runner has released its work.
struct ListeningServer: Service {
    let stop: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await stop()
    }
}

/// The runner's clock for what starts before the runner does (the console): real time until the
/// runner's clock exists.
final class ClockHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var clock: RunnerClock?

    func set(_ clock: RunnerClock) { lock.withLock { self.clock = clock } }
    func now() -> Date { lock.withLock { clock }?.now() ?? Date() }
}
