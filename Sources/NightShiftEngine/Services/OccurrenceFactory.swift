import Foundation
import NightShiftConfig
import NightShiftCore
import PostgresClient

/// Turns "batch B at instant T" into a batch run with its jobs: business date, window deadline,
/// operators' overrides folded in (skips and ignored dependencies), calendar warnings. Used by
/// the scheduler and by `run --once`, so both create occurrences the same way.
struct OccurrenceFactory {
    let configuration: Configuration
    let db: PostgresConnection

    /// What a request asks of the run (`nightshift.requests`).
    struct Requested {
        let id: Int
        /// Only this job, run alone (its dependencies are not waited for).
        let job: String?
        let businessDate: LocalDate?
        /// Every job at this priority instead of its own.
        let priority: Priority?
    }

    func create(batch: BatchKind, at instant: Date, trigger: String, now: Date, runner: String, notes: [String] = [],
                rerun: Bool = false, request: Requested? = nil) throws -> RunnerStore.Creation {
        let zone = configuration.settings.timeZone
        let businessDate = request?.businessDate ?? batch.businessDate(at: instant, in: zone)
        let overrides = try OverrideStore(db: db).overrides(batch: batch, businessDate: businessDate)
        var jobs = configuration.jobs(in: batch)
        if let request {
            if let only = request.job { jobs = jobs.filter { $0.name == only }.map { $0.with(dependsOn: []) } }
            if let priority = request.priority { jobs = jobs.map { $0.with(priority: priority) } }
        }
        let applied = AppliedOverrides(jobs: jobs, overrides: overrides.map(\.override))
        var skipped: [String: String] = [:]
        for name in applied.skipped {
            skipped[name] = applied.byJob[name]?.first { $0.action == .skip }?.summary ?? "skipped by an override"
        }
        let warnings = notes + configuration.calendarCoverageWarnings(from: instant, days: 0)
            + applied.unknown.map { "override for \($0.job), which is not a \(batch.rawValue) job, was ignored (\($0.summary))" }
        let schedule = configuration.schedule(batch)
        // A requested run may wait for its window: its batch window counts from when the windows
        // first let all its jobs start (a P3 request at 10:00 on a workday starts at 18:00).
        var opens = instant
        if request != nil {
            for priority in Set(applied.jobs.map(\.priority)) {
                if case let .deferred(until) = configuration.windows.decide(priority, at: instant).verdict, until > opens { opens = until }
            }
        }
        var new = RunnerStore.NewBatchRun(batch: batch, scheduledFor: instant,
                                          deadline: opens.addingTimeInterval(TimeInterval(schedule.windowSeconds)),
                                          businessDate: businessDate, trigger: trigger, jobs: try DependencyGraph(applied.jobs).order(),
                                          skipped: skipped,
                                          warnings: warnings)
        var expected: [String: Int] = [:]
        for (job, past) in try RunHistory.durations(db: db, jobs: applied.jobs.map(\.name)) where past.runs > 0 {
            expected[job] = max(1, Int(past.seconds.rounded()))
        }
        new.expectedSeconds = expected
        new.requestID = request?.id
        if batch == .monthly && configuration.settings.monthlyWaitsForClose {
            let month = String(format: "%04d-%02d", businessDate.year, businessDate.month)
            new.waitingFor = "the month-end close of \(month): a month_end_close_done event for \(month) in the inbox"
                + (configuration.settings.monthEndCheck.map { ", or sql/\($0) returning true" } ?? "")
        }
        let store = RunnerStore(db: db, zone: zone)
        let creation = try store.createBatchRun(new, now: now, runner: runner, rerun: rerun)
        if case let .created(id) = creation, !overrides.isEmpty {
            let runs = try db.query("SELECT id, job FROM nightshift.job_runs WHERE batch_run_id = \(id)")
            var byName: [String: Int] = [:]
            for (job, id) in try runs.decode(of: "nightshift.job_runs", { (try $0.text("job"), try $0.int("id")) }) { byName[job] = id }
            for entry in overrides {
                guard let jobRunID = byName[entry.override.job] else { continue }
                try OverrideStore(db: db).markApplied(overrideID: entry.id, jobRunID: jobRunID)
                if case .ignoreDependency = entry.override.action {
                    try db.query("""
                        UPDATE nightshift.job_runs SET note = CASE WHEN note IS NULL THEN \(entry.override.summary) ELSE note || '; ' || \(entry.override.summary) END WHERE id = \(jobRunID)
                        """)
                }
            }
        }
        return creation
    }
}
