import Foundation
import NightShiftCore
import NightShiftEngine

/// Runners: each runner process with its heartbeat, workers, leader role and clock; what is
/// stuck; rows no part of NightShift can read.
enum RunnersPage {
    static func context(_ page: PageContext) throws -> [String: Any] {
        let status = try RunnerStatus.load(db: page.db, leaseSeconds: page.configuration.settings.service.leaseSeconds, zone: page.zone)
        var context = page.base("Runners", current: "/runners")
        context["runners"] = status.runners.map { runner -> [String: Any] in
            ["id": runner.id, "state": runner.state, "leader": runner.leader, "workers": runner.workers, "mode": runner.mode,
             "heartbeat": ConsoleFormat.duration(runner.heartbeatAgeSeconds) + " ago", "clock": runner.clock, "alive": runner.alive]
        }
        context["running"] = status.running.map { job -> [String: Any] in
            ["job": job.job, "job_run": job.jobRunID, "runner": job.runner, "attempt": job.attempt,
             "processed": job.processed.map(String.init) ?? "", "percent": job.percent.map { String(format: "%.0f%%", $0) } ?? ""]
        }
        context["stuck"] = status.stuck + status.needsALook
        return context
    }
}
