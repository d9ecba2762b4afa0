import NightShiftCore

/// Reads the `batches:` section of etc/nightshift.yaml over the DESIGN defaults.
enum BatchesSection {
    static func read(_ section: MappingReader?) -> [BatchKind: BatchSchedule] {
        var schedules: [BatchKind: BatchSchedule] = [:]
        for batch in BatchKind.allCases {
            let base = BatchSchedule.defaults(batch)
            guard let b = section?.mapping(batch.rawValue, required: false, example: "`cron: \"\(base.cron)\"`") else {
                schedules[batch] = base
                continue
            }
            var cron: CronExpression?
            if let text = b.string("cron", required: false, example: "\"\(base.cron)\"") {
                do { cron = try CronExpression(text) } catch {
                    b.error("cron", line: b.line(of: "cron"), "\(error)", fix: "write minute hour day-of-month month day-of-week, e.g. \"\(base.cron)\"")
                }
            }
            let hours = b.int("window_hours", range: 1...72, example: "\(base.windowSeconds / 3600)")
            let priority = b.scalar("priority", required: false, expected: "P1, P2, P3 or P4", example: base.priority.description) { Priority(text: $0) }
            let retries = b.int("retries", range: 0...10, example: "3")
            let holiday = b.scalar("holiday_policy", required: false, expected: "run, skip, next_workday or previous_workday",
                                   example: "run") { HolidayPolicy(rawValue: $0) }
            let misfireName = b.scalar("misfire", required: false, expected: "skip, run_once or run_all", example: "run_once") {
                ["skip", "run_once", "run_all"].contains($0) ? $0 : nil
            }
            let limit = b.int("misfire_limit", range: 1...1000, example: "10") ?? 10
            let grace = b.int("grace_minutes", range: 0...1440, example: "60")
            b.finish()
            let misfire: MisfirePolicy = switch misfireName {
            case "skip": .skip
            case "run_all": .runAll(limit: limit)
            case "run_once": .runOnce
            default: base.misfire
            }
            schedules[batch] = BatchSchedule(batch: batch, cron: cron ?? base.cron, windowSeconds: (hours ?? base.windowSeconds / 3600) * 3600,
                                             priority: priority ?? base.priority, retries: retries ?? base.retries,
                                             holidayPolicy: holiday ?? base.holidayPolicy, misfire: misfire,
                                             graceSeconds: (grace ?? base.graceSeconds / 60) * 60)
        }
        section?.finish()
        return schedules
    }
}
