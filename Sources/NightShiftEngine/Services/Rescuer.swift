import Foundation
import NightShiftCore
import PostgresClient

/// Keeps nothing stuck. One pass: jobs whose lease expired (their runner died or lost the
/// database) go back to the queue and resume from their checkpoint; waiting jobs that can no
/// longer run (a dependency failed, the batch window ended) are skipped; batches whose jobs have all
/// ended are closed; closed batches without a summary get one (whichever runner closed them);
/// staged export files of attempts that no longer run are swept.
final class Rescuer: @unchecked Sendable {
    private let context: RunnerContext
    private let keeper: ConnectionKeeper
    /// Called with each batch run this pass closed or summarised.
    var onBatchEnded: (Int) -> Void = { _ in }
    /// Called when jobs were put back in the queue (wakes the dispatcher).
    var onRescued: () -> Void = {}
    /// Queue the night's mail after `mail.morning` (the service; not `run --once`).
    var sendsNightMail = false
    /// Called when the night's mail was queued (wakes the mail sender).
    var onMailQueued: () -> Void = {}
    /// The night whose mail could not be written, said once in the log (retried every pass).
    private var nightMailFailure: String?
    /// The last failure to raise alerts, said once in the log.
    private var alertFailure: String?
    /// When the metrics' gauges were last sampled (every 5 s at most).
    private var lastSample = Date.distantPast

    init(context: RunnerContext) {
        self.context = context
        keeper = ConnectionKeeper(connect: context.connect)
    }

    func runOnce() throws {
        try keeper.use { db in
            let store = RunnerStore(db: db, zone: context.zone)
            let now = context.clock.now()
            let runner = context.identity.id
            let rescued = try store.rescueExpiredLeases(now: now, runner: runner)
            for job in rescued {
                context.logger.warning("lease expired; job rescued", metadata: ["job": "\(job.job)", "job_run": "\(job.jobRunID)",
                                                                                "former_owner": "\(job.formerOwner)", "now": "\(job.state.rawValue)"])
            }
            if !rescued.isEmpty { onRescued() }
            RunnerMetrics.leasesLost(rescued.count, rescued: true)
            let released = try MonthEndClose(configuration: context.configuration, db: db).releaseDue(now: now, runner: runner)
            for (id, why) in released {
                context.logger.notice("held batch released", metadata: ["batch_run": "\(id)", "why": "\(why)"])
            }
            if !released.isEmpty { onRescued() }
            let skipped = try store.skipBlockedJobs(now: now, runner: runner)
            if skipped > 0 { context.logger.warning("jobs skipped", metadata: ["count": "\(skipped)"]) }
            let closed = try store.closeFinishedBatches(now: now, runner: runner)
            if !closed.isEmpty {
                let batches = try db.query("""
                    SELECT id, batch, state, extract(epoch FROM finished_at - started_at)::float8 AS seconds
                    FROM nightshift.batch_runs WHERE id = ANY (\(closed.map(String.init))::bigint[])
                    """)
                for row in batches.rows(of: "nightshift.batch_runs") {
                    RunnerMetrics.batchClosed(batch: try row.text("batch"), state: try row.text("state"),
                                              seconds: try row.optionalDouble("seconds") ?? 0)
                }
            }
            for id in closed {
                context.logger.notice("batch closed", metadata: ["batch_run": "\(id)"])
                onBatchEnded(id)
            }
            var failure: Error?
            for id in try store.dueSummaries() {
                do {
                    let written = try store.writeSummary(id, now: context.clock.now(), runner: runner) { id in
                        try SummaryMail(configuration: context.configuration).write(try BatchReport.load(id, db: db))
                    }
                    if written { context.logger.info("summary written", metadata: ["batch_run": "\(id)"]) }
                } catch let error as PostgresError where error.isTransient {
                    throw error
                } catch let error as RowDecodingError {
                    // Said on the batch run (status lists it) and in the log once; the pass carries on.
                    context.unreadable.report(error, by: "rescuer (summary of batch run \(id))")
                } catch {
                    // Said on the batch run (status, run --once) and retried on the next pass.
                    context.logger.error("summary not written", metadata: ["batch_run": "\(id)", "error": "\(error)"])
                    failure = failure ?? error
                }
                onBatchEnded(id)
            }
            if sendsNightMail {
                do {
                    if let id = try MorningMail(configuration: context.configuration)
                        .queueIfDue(db: db, now: now, runner: runner, unreadable: context.unreadable.handler("rescuer (the night's mail)")) {
                        context.logger.notice("the night's mail is queued", metadata: ["mail": "\(id)"])
                        nightMailFailure = nil
                        onMailQueued()
                    }
                } catch let error as PostgresError where error.isTransient {
                    throw error
                } catch {
                    if nightMailFailure != "\(error)" {
                        context.logger.error("the night's mail cannot be written; retrying", metadata: ["error": "\(error)"])
                        nightMailFailure = "\(error)"
                    }
                }
            }
            do {
                let alerts = Alerts(configuration: context.configuration, unreadable: context.unreadable.handler("rescuer (alerts)"))
                for incident in try alerts.runOnce(db: db, now: now, runner: runner) {
                    RunnerMetrics.alertRaised(kind: incident.kind.rawValue)
                    context.logger.error("ALERT: \(incident.subject)", metadata: ["incident": "\(incident.key)",
                                                                                    "on_call": "\(context.configuration.settings.mail.onCall.isEmpty ? "nobody (mail.on_call)" : "mailed")"])
                    onMailQueued()
                }
                alertFailure = nil
            } catch let error as PostgresError where error.isTransient {
                throw error
            } catch {
                if alertFailure != "\(error)" {
                    context.logger.error("alerts cannot be raised; retrying", metadata: ["error": "\(error)"])
                    alertFailure = "\(error)"
                }
            }
            try sweepStagedExports(db: db)
            if Date().timeIntervalSince(lastSample) >= 5 {
                try RunnerMetrics.sample(db: db)
                lastSample = Date()
            }
            if let failure { throw failure }
        }
    }

    /// Staged files are named `.<final name>.j<job run>a<attempt>[.partial]`: one whose attempt
    /// is not running under a live lease any more is left over from a crash and removed.
    /// Exports and reports (a folder per report job) are swept alike.
    func sweepStagedExports(db: PostgresConnection) throws {
        let settings = context.configuration.settings
        let reportFolders = ((try? FileManager.default.contentsOfDirectory(atPath: settings.reportsDirectory)) ?? [])
            .map { "\(settings.reportsDirectory)/\($0)" }
        var staged: [(name: String, jobRun: Int, attempt: Int)] = []
        for directory in [settings.exportsDirectory] + reportFolders {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in names where name.hasPrefix(".") {
                guard let match = name.firstMatch(of: /\.j(\d+)a(\d+)(\.partial)?$/), let run = Int(match.1), let attempt = Int(match.2) else { continue }
                staged.append(("\(directory)/\(name)", run, attempt))
            }
        }
        guard !staged.isEmpty else { return }
        let live = try db.query("""
            SELECT id, attempts FROM nightshift.job_runs
            WHERE id = ANY (\(Set(staged.map { String($0.jobRun) }).sorted())::bigint[]) AND state = 'running' AND lease_expires_at > clock_timestamp()
            """)
        var running: [Int: Int] = [:]
        for (id, attempts) in try live.decode(of: "nightshift.job_runs", { (try $0.int("id"), try $0.int("attempts")) }) { running[id] = attempts }
        for file in staged where running[file.jobRun] != file.attempt {
            try? FileManager.default.removeItem(atPath: file.name)
            context.logger.info("swept a staged file of an attempt that no longer runs", metadata: ["file": "\(file.name)"])
        }
    }

    func close() { keeper.close() }
}
