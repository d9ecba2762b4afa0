import Foundation
import Logging
import PostgresClient

/// A stop request that threads can wait on. Set once.
final class StopSignal: @unchecked Sendable {
    private let condition = NSCondition()
    private var stopped = false
    private(set) var reason = ""

    var isSet: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    func set(_ why: String) {
        condition.lock()
        if !stopped {
            stopped = true
            reason = why
        }
        condition.broadcast()
        condition.unlock()
    }
}

/// Runs one runner service on a thread of its own (libpq blocks; never on Swift's cooperative
/// pool): its single pass, then a wait of `interval` real seconds or until woken, until stopped.
/// A pass that throws is logged and retried after a back-off with jitter (1 s doubling to 30 s);
/// a transient database error never ends the loop.
final class ServiceLoop: @unchecked Sendable {
    let name: String
    private let interval: TimeInterval
    private let logger: Logger
    private let pass: () throws -> Void
    private let condition = NSCondition()
    private var woken = false
    private var stopped = false
    private var finished = false
    private var thread: Thread?

    init(name: String, interval: TimeInterval, logger: Logger, pass: @escaping () throws -> Void) {
        self.name = name
        self.interval = interval
        self.logger = logger
        self.pass = pass
    }

    func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "nightshift-\(name)"
        thread.stackSize = 4 << 20
        self.thread = thread
        thread.start()
    }

    /// Runs the next pass now instead of after the interval.
    func wake() {
        condition.lock()
        woken = true
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until the loop's thread has finished its last pass.
    func join() {
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private func loop() {
        var failures = 0
        while true {
            condition.lock()
            let stop = stopped
            woken = false
            condition.unlock()
            if stop { break }
            var wait = interval
            do {
                try pass()
                if failures > 0 { logger.notice("\(name) recovered", metadata: ["after_failures": "\(failures)"]) }
                failures = 0
            } catch {
                failures += 1
                let backoff = min(30, pow(2, Double(min(failures - 1, 5))))
                wait = backoff * Double.random(in: 0.5...1.0)
                let transient = (error as? PostgresError)?.isTransient == true
                logger.log(level: transient ? .warning : .error, "\(name) pass failed; retrying",
                           metadata: ["error": "\(error)", "in_seconds": "\(String(format: "%.1f", wait))"])
            }
            condition.lock()
            let deadline = Date().addingTimeInterval(wait)
            while !woken && !stopped && Date() < deadline {
                _ = condition.wait(until: deadline)
            }
            condition.unlock()
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }
}
