import Foundation
import ServiceLifecycle

/// Opens once the runner is registered (true), or when it stops before that (false). The runner's
/// parts wait on it, so no loop touches the database before the runner's row exists.
final class StartGate: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Bool?
    private var waiting: [CheckedContinuation<Bool, Never>] = []

    /// Settles the gate (only the first call counts).
    func open(_ registered: Bool) {
        lock.lock()
        guard result == nil else { return lock.unlock() }
        result = registered
        let resumed = waiting
        waiting = []
        lock.unlock()
        for continuation in resumed { continuation.resume(returning: registered) }
    }

    var isOpen: Bool {
        lock.lock()
        defer { lock.unlock() }
        return result == true
    }

    func wait() async -> Bool {
        await withCheckedContinuation { continuation in
            lock.lock()
            if let result {
                lock.unlock()
                continuation.resume(returning: result)
            } else {
                waiting.append(continuation)
                lock.unlock()
            }
        }
    }
}

/// One part of a runner (a loop, or the workers) as a swift-service-lifecycle `Service` in the
/// runner's one `ServiceGroup`. It starts its threads once the runner is registered, runs until the
/// group's graceful shutdown reaches it (the group stops services in the reverse of their order, so
/// the order of the parts is the order of a stop), then `finish`es on a thread of its own: stops
/// its threads, waits for them, makes its final pass and closes its connection.
struct RunnerPart: Service, CustomStringConvertible {
    let name: String
    let gate: StartGate
    let start: @Sendable () -> Void
    let finish: @Sendable () -> Void

    var description: String { name }

    init(_ name: String, gate: StartGate, start: @escaping @Sendable () -> Void, finish: @escaping @Sendable () -> Void) {
        self.name = name
        self.gate = gate
        self.start = start
        self.finish = finish
    }

    /// A loop: started at the gate; stopped and joined at shutdown, then `then` (a final pass, closing).
    init(_ loop: ServiceLoop, gate: StartGate, then: @escaping @Sendable () -> Void) {
        self.init(loop.name, gate: gate, start: { loop.start() }, finish: {
            loop.stop()
            loop.join()
            then()
        })
    }

    func run() async throws {
        let started = await gate.wait()
        if started { start() }
        // Its turn in the group's graceful shutdown (or the group's cancellation: finish all the same).
        try? await gracefulShutdown()
        _ = try? await onThread("nightshift-\(name)-stop") { [finish, started] in
            if started { finish() }
        }
    }
}
