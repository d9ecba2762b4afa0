import Foundation
import NightShiftCore

/// Reads `etc/windows.yaml`: the windows, the rule → priorities table and the priority policy.
enum WindowsFile {
    static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    static func read(root: String, diagnostics: Diagnostics) -> (windows: [ProcessingWindow], allowed: [WindowRule: Set<Priority>], policy: PriorityPolicy)? {
        let file = "etc/windows.yaml"
        let before = diagnostics.errors.count
        guard let top = MappingReader.open(path: "\(root)/\(file)", file: file, diagnostics: diagnostics,
                                           fix: "restore etc/windows.yaml (processing windows are required)") else { return nil }
        var windows: [ProcessingWindow] = []
        if let list = top.sequence("windows", required: true, example: "a list of windows") {
            var names: Set<String> = []
            for (i, item) in list.enumerated() {
                guard let w = MappingReader(item, file: file, prefix: "windows[\(i)]", diagnostics: diagnostics) else { continue }
                let name = w.string("name", example: "business_hours")
                _ = w.string("description", required: false, example: "what the window protects")
                let days = w.scalarOrList("days", example: "workdays") { values -> ProcessingWindow.Days? in
                    if values.count == 1 {
                        switch values[0].lowercased() {
                        case "all": return .all
                        case "workdays": return .workdays
                        case "weekends": return .weekends
                        case "holidays": return .holidays
                        default: break
                        }
                    }
                    let numbers = values.compactMap { dayNames.firstIndex(of: String($0.lowercased().prefix(3))) }
                    return numbers.count == values.count && !values.isEmpty ? .weekdays(Set(numbers)) : nil
                }
                let monthDays = w.scalar("month_days", required: false, expected: "a day range like 25-5", example: "\"25-5\"") { text -> (Int, Int)? in
                    let parts = text.split(separator: "-").compactMap { Int($0) }
                    guard parts.count == 2, (1...31).contains(parts[0]), (1...31).contains(parts[1]) else { return nil }
                    return (parts[0], parts[1])
                }
                let time = w.scalar("time", required: true, expected: "a time range HH:MM-HH:MM with start before end",
                                    example: "\"08:00-18:00\"") { text -> (Int, Int)? in
                    let parts = text.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
                    guard parts.count == 2, let a = minutes(parts[0]), let b = minutes(parts[1]), a < b else { return nil }
                    return (a, b)
                }
                let rule = w.scalar("rule", required: true, expected: "never, avoid, restricted, open or optimal",
                                    example: "avoid") { WindowRule(rawValue: $0) }
                if let name, !names.insert(name).inserted {
                    w.error("name", line: nil, "window \(name) is defined twice", fix: "give each window its own name")
                }
                w.finish()
                if let name, let days, let time, let rule {
                    windows.append(ProcessingWindow(name: name, days: days, monthDays: monthDays.map { (from: $0.0, to: $0.1) },
                                                    start: time.0, end: time.1, rule: rule))
                }
            }
        }
        var allowed = WindowSet.defaultAllowed
        if let rules = top.mapping("rules", required: false, example: "`avoid: [P1, P2]`") {
            for rule in WindowRule.allCases {
                if let list = rules.stringList(rule.rawValue, example: "[P1, P2]") {
                    let priorities = list.compactMap(Priority.init(text:))
                    if priorities.count != list.count {
                        rules.error(rule.rawValue, line: nil, "every item must be P1, P2, P3 or P4", fix: "write e.g. `\(rule.rawValue): [P1, P2]`")
                    }
                    allowed[rule] = Set(priorities)
                }
            }
            rules.finish()
        }
        var policy = PriorityPolicy()
        if let p = top.mapping("priorities", required: false, example: "`aging_step_minutes: 60`") {
            let deadline = p.int("high_start_deadline_minutes", range: 1...1440, example: "60") ?? 60
            let step = p.int("aging_step_minutes", range: 0...10_080, example: "60") ?? 60
            let maxPromotion = p.int("max_promotion", range: 0...3, example: "1") ?? 1
            let ceiling = p.scalar("aging_ceiling", required: false, expected: "P1, P2, P3 or P4", example: "P2") { Priority(text: $0) } ?? .p2
            p.finish()
            policy = PriorityPolicy(highStartDeadline: deadline * 60, agingStepSeconds: step * 60, maxPromotion: maxPromotion, agingCeiling: ceiling)
        }
        top.finish()
        guard diagnostics.errors.count == before else { return nil }
        return (windows, allowed, policy)
    }

    /// "HH:MM" → minutes since midnight; 24:00 allowed.
    static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]), (0...59).contains(m) else { return nil }
        guard (0...23).contains(h) || (h == 24 && m == 0) else { return nil }
        return h * 60 + m
    }
}
