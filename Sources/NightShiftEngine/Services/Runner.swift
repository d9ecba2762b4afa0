import Foundation
import Logging
import NightShiftConfig
import NightShiftCore
import PostgresClient
import ServiceLifecycle

/// One runner process: the scheduler (leader only), the intake (requests), the dispatcher, the
/// workers, the rescuer and the upkeep (Services/Upkeep), the mail sender and the heartbeat, each
/// on threads of its own. Any number of runners may share one database.
///
/// `run()` returns when the runner stops: on `requestStop` (SIGTERM/SIGINT), at `until` on the
/// runner's clock, or — in `once` mode — when its batch run is closed and summarised. Stopping
/// takes no new work, asks running jobs to stop at their next checkpoint and release themselves
/// (their statements are cancelled after the stop timeout), and closes every connection.
public final class Runner: @unchecked Sendable {
    public enum Mode: Sendable, Equatable {
        /// The long-running service: fires the schedules and runs whatever is ready.
        case service
        /// Helps one batch run to its end, then stops (`run --once`).
        case once(batchRunID: Int)
    }

    let context: RunnerContext
    let mode: Mode
    let until: Date?
    let notifier: SystemdNotifier?
    private let stop = StopSignal()
    private let done = StopSignal()

    public var identity: RunnerIdentity { context.identity }

    /// The batch run a `run --once` runner helps to its end (nil for the service).
    public var batchRunID: Int? { if case let .once(id) = mode { id } else { nil } }

    public init(configuration: Configuration, connect: @escaping () throws -> PostgresConnection, clock: RunnerClock,
                identity: RunnerIdentity = RunnerIdentity(), logger: Logger, mode: Mode, until: Date? = nil,
                notifier: SystemdNotifier? = nil) {
        context = RunnerContext(configuration: configuration, connect: connect, clock: clock, identity: identity, logger: logger)
        self.mode = mode
        self.until = until
        self.notifier = notifier
    }

    /// Asks the runner to stop gracefully (thread-safe, idempotent).
    public func requestStop(_ reason: String) { stop.set(reason) }

    /// Why the runner stopped (after `run()` returned).
    public var stopReason: String { stop.reason }

    /// Runs the runner until it stops. Every part is a `Service` in one `ServiceGroup`, after the
    /// `alongside` services (signals, the HTTP servers: they are stopped last). The group stops its
    /// services in the reverse of their order, which is the order of a stop: take no new work
    /// (watch, scheduler, intake, dispatcher), let running jobs reach a checkpoint and release
    /// themselves (workers), one last look that closes what they finished, writes the due summaries
    /// and raises alerts (rescuer, upkeep), send (mail sender), and the heartbeat last, so leases
    /// stay renewed until every job is released.
    public func run(alongside: [any Service] = []) async throws {
        let logger = context.logger
        let settings = context.settings
        let poll = Double(settings.pollMilliseconds) / 1000
        let gate = StartGate()
        let workers = Workers(count: settings.workers, context: context)
        let onlyBatch: Int? = if case let .once(id) = mode { id } else { nil }
        let dispatcher = Dispatcher(context: context, workers: workers, onlyBatchRun: onlyBatch)
        // The runner's upkeep, one concern per type (Services/Upkeep), in two loops: what ends
        // batches (rescue → close → summary → the night's mail, in that order) and the rest.
        let leaseRescuer = LeaseRescuer(context: context)
        let batchCloser = BatchCloser(context: context)
        let morningMailer = mode == .service ? MorningMailer(context: context) : nil
        let alerter = Alerter(context: context)
        let heartbeat = Heartbeat(context: context, workers: workers, notifier: notifier)
        let scheduler = mode == .service ? Scheduler(context: context) : nil
        let intake = mode == .service ? Intake(context: context) : nil
        let mailSender = MailSender(context: context)
        mailSender.shouldStop = { [stop] in stop.isSet }
        // Only with `deliveries:` configured (it holds a connection of its own).
        let deliverySender = context.configuration.settings.deliveries.isEmpty ? nil : DeliverySender(context: context)
        deliverySender?.shouldStop = { [stop] in stop.isSet }

        let dispatchLoop = ServiceLoop(name: "dispatcher", interval: poll, logger: logger, pass: dispatcher.runOnce)
        let rescuer = Upkeep(context: context, concerns: [leaseRescuer, batchCloser] + [morningMailer].compactMap { $0 })
        let upkeep = Upkeep(context: context, concerns: [alerter, StagedFileSweeper(context: context), GaugeSampler()]
                                + (scheduler.map { scheduler in
                                    [HistoryPurger(context: context, isLeader: { scheduler.isLeader }),
                                     OutputExpiry(context: context, isLeader: { scheduler.isLeader })] as [UpkeepConcern]
                                } ?? []))
        let rescueLoop = ServiceLoop(name: "rescuer", interval: poll, logger: logger, pass: rescuer.runOnce)
        // Alerts, the sweep, gauges and the purge need no faster look than once a second: at a short
        // poll interval they would take CPU from the jobs (the rescuer is woken at every job end).
        let upkeepLoop = ServiceLoop(name: "upkeep", interval: max(poll, 1), logger: logger, pass: upkeep.runOnce)
        let mailLoop = ServiceLoop(name: "mail sender", interval: poll, logger: logger) { try mailSender.runOnce() }
        let deliveryLoop = deliverySender.map { sender in
            ServiceLoop(name: "delivery sender", interval: poll, logger: logger) { try sender.runOnce() }
        }
        let heartbeatLoop = ServiceLoop(name: "heartbeat", interval: Double(settings.heartbeatSeconds), logger: logger,
                                        pass: heartbeat.runOnce)
        // The scheduler looks at least every 30 s of the runner's clock, so a fast clock fires on time.
        let scheduleInterval = min(poll, max(0.02, context.clock.realSeconds(forClockSeconds: 30)))
        let scheduleLoop = scheduler.map { ServiceLoop(name: "scheduler", interval: scheduleInterval, logger: logger, pass: $0.runOnce) }
        // The intake's pass ends by waiting for a request's NOTIFY or an inbox change (at most one poll interval).
        let intakeLoop = intake.map { intake in
            ServiceLoop(name: "intake", interval: 0, logger: logger) {
                try intake.runOnce()
                try intake.waitForWork(upTo: poll)
            }
        }
        workers.claimNext = dispatcher.claim
        // A worker claims its own next job; the dispatcher looks again (for idle workers), and the
        // rescuer runs a pass at once, so a batch whose last job ended closes now, not a poll later.
        workers.onJobEnded = {
            dispatchLoop.wake()
            rescueLoop.wake()
            deliveryLoop?.wake() // its outputs may be queued for delivery
        }
        leaseRescuer.onRescued = { dispatchLoop.wake() }
        batchCloser.onReleased = { dispatchLoop.wake() }
        morningMailer?.onQueued = { mailLoop.wake() }
        alerter.onQueued = { mailLoop.wake() }
        batchCloser.onBatchEnded = { [self] id in
            dispatchLoop.wake()
            mailLoop.wake()
            if case let .once(mine) = mode, id == mine, batchIsSummarised(id) { done.set("batch run \(id) ended") }
        }
        scheduler?.onCreated = { dispatchLoop.wake() }
        intake?.onQueued = { dispatchLoop.wake() }

        // In the order of a start; the group stops them from the last to the first.
        let once = mode != .service
        var parts: [RunnerPart] = [
            RunnerPart(heartbeatLoop, gate: gate) { heartbeat.close() },
            RunnerPart(mailLoop, gate: gate) {
                // `run --once` delivers what it just wrote before it exits, if the server takes it now
                // (a failure leaves it queued for the next runner: nothing is lost, and the batch's
                // outcome does not depend on it). A few messages at most, so the exit is not held up.
                if once {
                    mailSender.shouldStop = { false }
                    do { try mailSender.runOnce(limit: 5) } catch {
                        logger.warning("mail left in the outbox", metadata: ["error": "\(error)"])
                    }
                }
                mailSender.close()
            },
        ]
        // Deliveries stop with the mail: after the last jobs published, before the heartbeat.
        if let deliveryLoop, let deliverySender {
            parts.append(RunnerPart(deliveryLoop, gate: gate) {
                // `run --once` delivers what its batch published before it exits, if the servers take
                // it now (a server that fails is tried once; what is left stays queued for the service).
                if once {
                    deliverySender.shouldStop = { false }
                    do { try deliverySender.runOnce() } catch {
                        logger.warning("deliveries left in the queue", metadata: ["error": "\(error)"])
                    }
                }
                deliverySender.close()
            })
        }
        parts += [
            // One last look: close what the last jobs finished, write due summaries, raise alerts.
            RunnerPart(upkeepLoop, gate: gate) {
                try? upkeep.runOnce()
                upkeep.close()
            },
            RunnerPart(rescueLoop, gate: gate) {
                try? rescuer.runOnce()
                rescuer.close()
            },
            RunnerPart("workers", gate: gate, start: { workers.start() }, finish: {
                workers.stopAll()
                heartbeatLoop.wake() // its STATUS says what is left to release
                workers.join()
            }),
            RunnerPart(dispatchLoop, gate: gate) { dispatcher.close() },
        ]
        if let intakeLoop, let intake { parts.append(RunnerPart(intakeLoop, gate: gate) { intake.close() }) }
        if let scheduleLoop, let scheduler { parts.append(RunnerPart(scheduleLoop, gate: gate) { scheduler.close() }) }
        let watch = RunnerWatch(runner: self, gate: gate, heartbeat: heartbeat)
        let group = ServiceGroup(configuration: .init(
            services: alongside.map { .init(service: $0) } + parts.map { .init(service: $0) } + [
                .init(service: watch, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
            ], logger: logger))
        try await group.run()
        guard gate.isOpen else { return }
        try await onThread("nightshift-runner-stop") { [context] in
            if let db = try? context.connect() {
                try? RunnerStore(db: db).stopRunner(context.identity.id)
                db.close()
            }
        }
        logger.notice("runner stopped", metadata: ["runner": "\(context.identity.id)"])
    }

    /// The watch (run by `RunnerWatch` on a thread of its own): registers, opens the gate, then
    /// waits for a reason to stop. In once mode, another runner may end our batch: it looks now and then.
    fileprivate func watch(gate: StartGate, heartbeat: Heartbeat) throws {
        let registered: Bool
        do { registered = try register() } catch {
            gate.open(false)
            throw error
        }
        guard registered else {
            context.logger.notice("runner stopped before it started", metadata: ["reason": "\(stop.reason)"])
            return gate.open(false)
        }
        // READY=1 before any loop starts: the heartbeat's first WATCHDOG=1 must not come first.
        notifier?.notify("READY=1")
        gate.open(true)
        let settings = context.settings
        context.logger.notice("runner started", metadata: ["runner": "\(context.identity.id)", "workers": "\(settings.workers)",
                                                           "clock": "\(context.clock.now().iso8601(in: context.zone))",
                                                           "speed": "\(context.clock.speed)"])
        if case let .once(id) = mode, batchIsSummarised(id) { done.set("batch run \(id) had already ended") }
        let poll = Double(settings.pollMilliseconds) / 1000
        var lastLook = Date()
        while !stop.isSet && !done.isSet {
            if let until, context.clock.now() >= until {
                stop.set("the clock reached --until \(until.iso8601(in: context.zone))")
                break
            }
            if case let .once(id) = mode, Date().timeIntervalSince(lastLook) >= poll {
                lastLook = Date()
                if batchIsSummarised(id) { done.set("batch run \(id) ended") }
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let reason = done.isSet ? done.reason : stop.reason
        if !done.isSet { stop.set(reason) }
        context.logger.notice("runner stopping", metadata: ["reason": "\(reason)"])
        notifier?.notify("STOPPING=1")
        heartbeat.stopRequested() // from now on its STATUS says stopping
    }

    /// Registers the runner, waiting (with back-off) while the database is unreachable, and while
    /// its connections would take the live runners past `limits.total_connections`. False when a
    /// stop came first.
    private func register() throws -> Bool {
        let settings = context.configuration.settings
        let needed = settings.connectionsPerRunner
        var delay = 1.0
        var lastNotice: Date?
        while !stop.isSet {
            if let until, context.clock.now() >= until {
                stop.set("the clock reached --until \(until.iso8601(in: context.zone))")
                break
            }
            do {
                let db = try context.connect()
                defer { db.close() }
                let inUse = try RunnerStore(db: db).registerRunner(context.identity, clock: context.clock, workers: context.settings.workers,
                                                                    mode: mode == .service ? "service" : "once", connections: needed,
                                                                    totalConnections: settings.totalConnections,
                                                                    liveWithinSeconds: context.settings.leaseSeconds)
                guard let inUse else { return true }
                if lastNotice.map({ Date().timeIntervalSince($0) >= 60 }) ?? true {
                    lastNotice = Date()
                    context.logger.notice("waiting to start: the live runners hold \(inUse) of limits.total_connections \(settings.totalConnections) database connections and this runner needs \(needed)",
                                          metadata: ["runner": "\(context.identity.id)"])
                }
                Thread.sleep(forTimeInterval: 1)
            } catch let error as PostgresError where error.isTransient {
                if stop.isSet { throw error }
                context.logger.warning("database unavailable; retrying", metadata: ["error": "\(error)", "in_seconds": "\(delay)"])
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 30)
            }
        }
        return false
    }

    /// Ended, and its summary written or given up on for now (the error is on the batch run).
    private func batchIsSummarised(_ id: Int) -> Bool {
        guard let db = try? context.connect() else { return false }
        defer { db.close() }
        guard let status = try? RunnerStore(db: db).batchStatus(id) else { return false }
        return status.state != .running && (status.summaryWritten || status.summaryError != nil)
    }
}

/// The runner's first and last word: registers it, then waits for a reason to stop (a signal, the
/// group's shutdown, `--until`, the end of a `run --once` batch) and returns, which starts the
/// group's graceful shutdown.
private struct RunnerWatch: Service {
    let runner: Runner
    let gate: StartGate
    let heartbeat: Heartbeat

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await onThread("nightshift-watch") { [runner, gate, heartbeat] in try runner.watch(gate: gate, heartbeat: heartbeat) }
        } onGracefulShutdown: { [runner] in
            runner.requestStop("graceful shutdown")
        }
    }
}
