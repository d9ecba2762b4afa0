import ArgumentParser
import Foundation
import NightShiftConfig
import NightShiftCore
import NightShiftEngine
import PostgresClient

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show the ordered plan of a batch started at --at: windows, expected start and finish, and whether it fits.",
        discussion: """
            Durations come from the mean of each job's last 5 successful runs in the database, else the \
            job's estimate_minutes. Overrides recorded with `nightshift override` are applied. Without a \
            reachable database the plan uses estimates and says so. Within one aged priority the job with \
            the longest remaining path (its duration plus the longest chain of work waiting on it) starts \
            first, as in the run. The critical path (marked *) is the chain that sets the batch's finish; \
            a job's slack is how much later it may finish before the chain waiting on it passes the \
            window end.

            The plan runs the night through the same decision model as the runner (windows decided at \
            each start, pauses at checkpoints, preemption, locks, limits.concurrent_jobs slots). With \
            --also batch@instant (repeatable), other occurrences of the night share the slots and the \
            queue; their jobs are listed with their batch.

            What-if: --hold JOB plans the night with JOB not run (what waits on it cannot start); \
            --delay JOB=30m with JOB starting that much later than planned (s, m or h; repeatable). The \
            plan shown is the what-if; the lines after it compare its finish and critical path with the \
            plan without it.
            """
    )

    @OptionGroup var options: GlobalOptions
    @Option(help: "The instant the batch starts (ISO 8601 with offset); default: now.") var at: String?
    @Option(help: "Which batch: daily, weekly, monthly, yearend.") var batch: String = "daily"
    @Option(name: .customLong("also"), help: ArgumentHelp("Another batch occurrence of the same night, sharing the slots (repeatable).",
                                                         valueName: "batch@instant"))
    var also: [String] = []
    @Option(name: .customLong("hold"), help: ArgumentHelp("What-if: this job is not run (repeatable).", valueName: "job"))
    var hold: [String] = []
    @Option(name: .customLong("delay"), help: ArgumentHelp("What-if: this job starts later than planned by the duration (repeatable).",
                                                          valueName: "job=30m"))
    var delay: [String] = []
    @Flag(help: "Print JSON instead of a table.") var json = false

    /// `job=30m` as (job, seconds): a whole number of s, m or h.
    static func delayed(_ text: String) -> (String, Int)? {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, let unit = parts[1].last, let amount = Int(parts[1].dropLast()), amount > 0 else { return nil }
        let factor: Int? = switch unit {
        case "s": 1
        case "m": 60
        case "h": 3600
        default: nil
        }
        guard let factor, amount <= 48 * 3600 / factor else { return nil }
        return (parts[0], amount * factor)
    }

    func validate() throws {
        for what in delay where PlanCommand.delayed(what) == nil {
            throw ValidationError("--delay \(what) is not job=duration; write e.g. delivery_charges=30m (s, m or h, at most 48 h)")
        }
        if let at, parseInstant(at) == nil { throw ValidationError("--at \(at) is not an ISO 8601 instant; write e.g. 2026-11-23T02:00:00+08:00") }
        guard BatchKind(rawValue: batch) != nil else { throw ValidationError("--batch must be daily, weekly, monthly or yearend") }
        for other in also where PlanCommand.occurrence(other) == nil {
            throw ValidationError("--also \(other) is not batch@instant; write e.g. monthly@2026-12-01T00:00:00+08:00")
        }
    }

    static func occurrence(_ text: String) -> (BatchKind, Date)? {
        let parts = text.split(separator: "@", maxSplits: 1).map(String.init)
        guard parts.count == 2, let kind = BatchKind(rawValue: parts[0]), let instant = parseInstant(parts[1]) else { return nil }
        return (kind, instant)
    }

    func run() throws {
        let configuration = try loadConfiguration(options)
        let kind = BatchKind(rawValue: batch)!
        let instant = at.flatMap(parseInstant) ?? Date()
        let jobs = configuration.jobs(in: kind)
        let others = also.compactMap(PlanCommand.occurrence)
        let allJobs = jobs + others.flatMap { configuration.jobs(in: $0.0) }
        let businessDate = kind.businessDate(at: instant, in: configuration.settings.timeZone)
        var notes: [String] = []
        var history: [String: (seconds: Double, runs: Int)] = [:]
        var overrides: [ManualOverride] = []
        do {
            let db = try PostgresConnection(conninfo: connectionString(options, configuration.settings))
            defer { db.close() }
            let migrated = try db.query("""
                SELECT EXISTS (SELECT 1 FROM information_schema.columns
                               WHERE table_schema = 'nightshift' AND table_name = 'job_runs' AND column_name = 'run_seconds') AS ok
                """).bool(0, "ok") ?? false
            if migrated {
                history = try RunHistory.durations(db: db, jobs: allJobs.map(\.name))
                overrides = try OverrideStore(db: db).overrides(batch: kind, businessDate: businessDate).map(\.override)
            } else {
                notes.append("the runner schema is not up to date (run nightshift migrate): durations are estimates and overrides are not shown")
            }
        } catch {
            notes.append("database not reachable (\(error)): durations are estimates and overrides are not shown")
        }
        let schedule = configuration.schedule(kind)
        // The plan assumes the month is closed; the runner holds the monthly batch until it is.
        if configuration.settings.monthlyWaitsForClose && (kind == .monthly || others.contains { $0.0 == .monthly }) {
            notes.append("the monthly batch starts only once its month is closed (a month_end_close_done event"
                + (configuration.settings.monthEndCheck.map { ", or sql/\($0) returning true" } ?? "")
                + "); this plan assumes it is, and its window counts from the close")
        }
        func planned(_ whatIf: [Int: [String: JobProgress]]) throws -> Plan {
            try Planner.plan(PlanRequest(batch: kind, jobs: jobs, start: instant, schedule: schedule,
                                         windows: configuration.windows, policy: configuration.priorityPolicy,
                                         history: history, overrides: overrides, slots: configuration.settings.concurrentJobs,
                                         others: others.enumerated().map { k, other in
                                             PlanOccurrence(batch: other.0, start: other.1, jobs: configuration.jobs(in: other.0), progress: whatIf[k + 1] ?? [:])
                                         },
                                         maxBatches: configuration.settings.maxConcurrentBatches, progress: whatIf[0] ?? [:]))
        }
        var plan = try planned([:])
        var comparison: [String] = []
        if !hold.isEmpty || !delay.isEmpty {
            let planWithout = plan
            let delays = delay.compactMap(PlanCommand.delayed)
            var whatIf: [Int: [String: JobProgress]] = [:]
            for name in hold + delays.map(\.0) where !plan.entries.contains(where: { $0.job.name == name }) {
                printError("error: \(name) is not a job of the planned batch\(others.isEmpty ? "" : "es"); the plan has \(plan.entries.map(\.job.name).sorted().joined(separator: ", "))")
                throw ExitCode(2)
            }
            for entry in plan.entries {
                if hold.contains(entry.job.name) {
                    whatIf[entry.occurrence, default: [:]][entry.job.name] = .held
                } else if let (_, seconds) = delays.last(where: { $0.0 == entry.job.name }), let start = entry.start {
                    whatIf[entry.occurrence, default: [:]][entry.job.name] = .waiting(left: entry.seconds, notBefore: start.addingTimeInterval(TimeInterval(seconds)))
                }
            }
            plan = try planned(whatIf)
            let zone = configuration.settings.timeZone
            let said = hold.map { "\($0) held" } + delays.map { "\($0.0) starts \(duration($0.1)) later than planned" }
            comparison.append("What-if: " + said.joined(separator: "; ") + ".")
            let change = Int(plan.requiredFinish.timeIntervalSince(planWithout.requiredFinish))
            comparison.append("P1–P3 jobs finish \(short(plan.requiredFinish, zone)) instead of \(short(planWithout.requiredFinish, zone))"
                + (change == 0 ? " (no change)" : change > 0 ? " (\(duration(change)) later)" : " (\(duration(-change)) earlier)")
                + "; " + (plan.fitsWindow ? "fits the window" : "DOES NOT FIT the window") + (planWithout.fitsWindow == plan.fitsWindow ? "" : planWithout.fitsWindow ? " (it fitted without the what-if)" : " (it did not fit without the what-if)") + ".")
            if planWithout.criticalPath != plan.criticalPath {
                comparison.append("Critical path without the what-if: " + planWithout.criticalPath.joined(separator: " → "))
            }
        }
        let next = schedule.nextRun(after: instant, calendar: configuration.windows.calendar, zone: configuration.settings.timeZone)
        let warnings = configuration.warnings + plan.warnings + notes
        if json {
            print(try PlanJSON.render(plan, zone: configuration.settings.timeZone, next: next, warnings: warnings, whatIf: comparison))
        } else {
            printTable(plan, configuration: configuration, schedule: schedule, next: next, warnings: warnings)
            for line in comparison { print(line) }
        }
    }

    func printTable(_ plan: Plan, configuration: Configuration, schedule: BatchSchedule, next: (instant: Date, note: String)?, warnings: [String]) {
        let zone = configuration.settings.timeZone
        let day = LocalDate(plan.start, in: zone)
        let dayKind: String = switch configuration.windows.calendar.kind(of: day) {
        case .workday: "workday"
        case .weekend: "weekend"
        case let .holiday(name): "holiday: \(name)"
        case let .makeupWorkday(name): "make-up workday: \(name)"
        case .uncovered: "not covered by any calendar"
        }
        let weekday = CronExpression.dayNames[day.weekday].capitalized
        print("Plan: \(plan.batch.rawValue) batch for business date \(plan.businessDate), starting \(plan.start.iso8601(in: zone)) (\(weekday), \(dayKind))")
        print("Window: \(schedule.windowSeconds / 3600) h, until \(plan.windowEnd.iso8601(in: zone)); \(configuration.settings.concurrentJobs) job(s) at a time")
        if let next { print("Next scheduled \(plan.batch.rawValue) run after that instant: \(next.instant.iso8601(in: zone)) (\(next.note))") }
        print("")
        let width = max(3, plan.entries.map { $0.job.name.count + ($0.occurrence == 0 ? 0 : $0.job.batch.rawValue.count + 3) }.max() ?? 3)
        let depWidth = max(9, plan.entries.map { $0.waitsFor.joined(separator: ",").count }.max() ?? 9)
        print(" #   " + "job".pad(width) + "  prio  " + "waits for".pad(depWidth) + "  start        finish       duration  slack       source              window decision")
        for (i, entry) in plan.entries.enumerated() {
            let prio = entry.effectivePriority == entry.job.priority ? entry.job.priority.description
                : "\(entry.job.priority)→\(entry.effectivePriority)"
            let start = entry.start.map { short($0, zone) } ?? "-"
            let finish = entry.finish.map { short($0, zone) } ?? "-"
            let decision: String = switch entry.status {
            case .scheduled: entry.decision?.reason ?? ""
            case .skipped: entry.overrides.map(\.summary).joined(separator: "; ")
            case let .blocked(reason): "BLOCKED: \(reason)" + (entry.decision.map { " — \($0.reason)" } ?? "")
            }
            let name = entry.occurrence == 0 ? entry.job.name : "\(entry.job.name) [\(entry.job.batch.rawValue)]"
            let slack = entry.slack.map { $0 < 0 ? "-" + duration(-$0) : duration($0) } ?? "-"
            let row = String(format: "%2d ", i + 1) + (entry.critical ? "*" : " ") + " " + name.pad(width) + "  " + prio.pad(4) + "  "
                + (entry.waitsFor.isEmpty ? "-" : entry.waitsFor.joined(separator: ",")).pad(depWidth) + "  "
                + start.pad(11) + "  " + finish.pad(11) + "  " + duration(entry.seconds).pad(8) + "  " + slack.pad(10) + "  "
                + entry.source.description.pad(18) + "  " + decision
            print(row)
            if let waited = entry.waited, entry.status == .scheduled { print("      waited: \(waited)") }
            for pause in entry.pauses { print("      paused \(pause)") }
            if entry.segments.count > 1 {
                print("      runs in \(entry.segments.count) segments: " + entry.segments.map { "\(short($0.start, zone))–\(short($0.end, zone))" }.joined(separator: ", "))
            }
            for override in entry.overrides where entry.status != .skipped { print("      override: \(override.summary)") }
        }
        print("")
        for (k, path) in plan.criticalPaths.enumerated() where !path.isEmpty {
            let end = plan.entries.first { $0.occurrence == k && $0.job.name == path.last }?.finish
            let batch = plan.entries.first { $0.occurrence == k }?.job.batch.rawValue ?? plan.batch.rawValue
            print("Critical path of the \(batch) batch (*, the chain that sets its finish\(end.map { " at \(short($0, zone))" } ?? "")): "
                  + path.joined(separator: " → "))
        }
        if !plan.criticalPath.isEmpty {
            print("Slack: how much later a job may finish before the longest chain of work waiting on it ends past the window end.")
            print("")
        }
        let spare = Int(plan.windowEnd.timeIntervalSince(plan.requiredFinish))
        if plan.fitsWindow {
            print("Predicted finish of P1–P3 jobs \(plan.requiredFinish.iso8601(in: zone)): fits the window (\(duration(spare)) to spare).")
        } else if plan.entries.contains(where: { if case .blocked = $0.status { $0.job.priority != .p4 } else { false } }) {
            print("Predicted finish \(plan.requiredFinish.iso8601(in: zone)) for the jobs that can start: DOES NOT FIT — some P1–P3 jobs are blocked.")
        } else {
            print("Predicted finish of P1–P3 jobs \(plan.requiredFinish.iso8601(in: zone)): DOES NOT FIT the window (\(duration(-spare)) over).")
        }
        if !plan.lateBestEffort.isEmpty {
            print("Best effort (P4) finishing after the window: \(plan.lateBestEffort.joined(separator: ", ")); all jobs done by \(plan.predictedFinish.iso8601(in: zone)).")
        }
        for warning in warnings { print("warning: \(warning)") }
    }
}

func short(_ date: Date, _ zone: TimeZone) -> String {
    let local = LocalDateTime(date, in: zone)
    return String(format: "%02d-%02d %02d:%02d", local.date.month, local.date.day, local.minute / 60, local.minute % 60)
}

func duration(_ seconds: Int) -> String {
    if seconds < 60 { return "\(seconds) s" }
    if seconds < 3600 { return "\(seconds / 60) min" }
    return String(format: "%d h %02d min", seconds / 3600, (seconds % 3600) / 60)
}

extension String {
    func pad(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

/// The plan as JSON for machines.
enum PlanJSON {
    struct Document: Encodable {
        let batch, businessDate, start, windowEnd, predictedFinish, requiredFinish: String
        let fitsWindow: Bool
        let lateBestEffort: [String]
        let nextScheduledRun: String?
        let nextScheduledRunNote: String?
        let warnings: [String]
        /// The chain that sets the batch's finish, first job first.
        let criticalPath: [String]
        /// The same for each batch of `--also`, in order.
        let alsoCriticalPaths: [[String]]
        /// What the what-if changed (`--hold`, `--delay`), as the text says it; absent without one.
        let whatIf: [String]?
        let jobs: [Job]
    }
    struct Job: Encodable {
        let name, batch, kind, priority, effectivePriority, status: String
        let dependsOn, waitsFor, locks: [String]
        let blockedReason: String?
        let start, finish: String?
        let seconds: Int
        let durationSource: String
        let decision: Decision?
        let waited: String?
        let pauses: [String]
        let segments: [[String]]
        let overrides: [String]
        let lateBySeconds: Int?
        /// Seconds it may finish later before the chain waiting on it ends past the window end.
        let slackSeconds: Int?
        let critical: Bool
    }
    struct Decision: Encodable {
        let verdict: String
        let until: String?
        let rule: String
        let window: String?
        let reason: String
    }

    static func render(_ plan: Plan, zone: TimeZone, next: (instant: Date, note: String)?, warnings: [String], whatIf: [String] = []) throws -> String {
        let jobs = plan.entries.map { entry -> Job in
            let (status, blocked): (String, String?) = switch entry.status {
            case .scheduled: ("scheduled", nil)
            case .skipped: ("skipped", nil)
            case let .blocked(reason): ("blocked", reason)
            }
            let decision = entry.decision.map { d -> Decision in
                let (verdict, until): (String, String?) = switch d.verdict {
                case .allowed: ("allowed", nil)
                case let .deferred(until): ("deferred", until.iso8601(in: zone))
                case .notAllowed: ("not_allowed", nil)
                }
                return Decision(verdict: verdict, until: until, rule: d.rule.rawValue, window: d.windowName, reason: d.reason)
            }
            return Job(name: entry.job.name, batch: entry.job.batch.rawValue, kind: entry.job.kind.rawValue, priority: entry.job.priority.description,
                       effectivePriority: entry.effectivePriority.description, status: status, dependsOn: entry.job.dependsOn,
                       waitsFor: entry.waitsFor, locks: entry.job.locks, blockedReason: blocked,
                       start: entry.start.map { $0.iso8601(in: zone) }, finish: entry.finish.map { $0.iso8601(in: zone) }, seconds: entry.seconds,
                       durationSource: entry.source.description, decision: decision, waited: entry.waited, pauses: entry.pauses,
                       segments: entry.segments.map { [$0.start.iso8601(in: zone), $0.end.iso8601(in: zone)] },
                       overrides: entry.overrides.map(\.summary),
                       lateBySeconds: entry.lateBy, slackSeconds: entry.slack, critical: entry.critical)
        }
        let document = Document(batch: plan.batch.rawValue, businessDate: plan.businessDate.description, start: plan.start.iso8601(in: zone),
                                windowEnd: plan.windowEnd.iso8601(in: zone), predictedFinish: plan.predictedFinish.iso8601(in: zone),
                                requiredFinish: plan.requiredFinish.iso8601(in: zone), fitsWindow: plan.fitsWindow, lateBestEffort: plan.lateBestEffort, nextScheduledRun: next.map { $0.instant.iso8601(in: zone) },
                                nextScheduledRunNote: next?.note, warnings: warnings, criticalPath: plan.criticalPath,
                                alsoCriticalPaths: Array(plan.criticalPaths.dropFirst()), whatIf: whatIf.isEmpty ? nil : whatIf, jobs: jobs)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(document), as: UTF8.self)
    }
}
