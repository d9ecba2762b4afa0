import Foundation
import NightShiftCore

/// Reads and validates one `jobs/<name>.yaml` into a `JobDefinition`.
enum JobFile {
    static var namePattern: Regex<Substring> { /^[a-z][a-z0-9_]{0,47}$/ }

    static func read(path: String, displayPath: String, settings: RunnerSettings, diagnostics: Diagnostics) -> JobDefinition? {
        let file = displayPath
        let before = diagnostics.errors.count
        guard let top = MappingReader.open(path: path, file: file, diagnostics: diagnostics) else { return nil }

        let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let name = top.string("name", example: stem)
        if let name {
            if (try? namePattern.wholeMatch(in: name)) == nil {
                top.error("name", line: nil, "`\(name)` is not a valid job name",
                          fix: "use lower-case letters, digits and underscores, starting with a letter (at most 48)")
            } else if name != stem {
                top.error("name", line: nil, "the job is named `\(name)` but its file is \(stem).yaml",
                          fix: "rename the file to \(name).yaml or set `name: \(stem)`")
            }
        }
        let description = top.string("description", required: false, example: "What the job produces") ?? ""
        let kind = top.scalar("kind", required: true, expected: "one of \(JobKind.allCases.map(\.rawValue).joined(separator: ", "))",
                              example: "aggregation") { JobKind(rawValue: $0) }
        let batch = top.scalar("batch", required: true, expected: "one of \(BatchKind.allCases.map(\.rawValue).joined(separator: ", "))",
                               example: "daily") { BatchKind(rawValue: $0) }
        let declaredPriority = top.scalar("priority", required: false, expected: "P1, P2, P3 or P4", example: "P3") { Priority(text: $0) }
        let schedule = batch.flatMap { settings.schedules[$0] }
        let priority = declaredPriority ?? schedule?.priority
        let depends = top.stringList("depends_on", example: "[daily_sales_summary]") ?? []
        let estimate = top.int("estimate_minutes", range: 0...24 * 60, example: "5") ?? 5
        let retries = top.int("retries", range: 0...10, example: "3") ?? schedule?.retries ?? settings.retries
        let locks = top.stringList("locks", example: "[erp.delivery_charges]") ?? []
        let timeout = top.int("timeout_minutes", range: 1...72 * 60, example: "30")
        let deliverTo = top.stringList("deliver_to", example: "[bank]") ?? []
        for target in deliverTo where settings.deliveries[target] == nil {
            let known = settings.deliveries.keys.sorted()
            top.error("deliver_to", line: top.line(of: "deliver_to"), "there is no delivery target `\(target)`",
                      fix: known.isEmpty ? "configure it under `deliveries:` in etc/nightshift.yaml, or remove `deliver_to`"
                          : "name one of \(known.joined(separator: ", ")) (deliveries: in etc/nightshift.yaml), or add `\(target)` there")
        }
        if !deliverTo.isEmpty, let kind, kind != .export, kind != .report {
            top.error("deliver_to", line: top.line(of: "deliver_to"), "a job of kind \(kind.rawValue) writes no files to deliver",
                      fix: "remove `deliver_to` (exports and reports deliver their files)")
        }
        var keepOutputs: OutputRetention.Keep?
        if let retention = top.mapping("retention", required: false, example: "`{outputs: 10 years}`") {
            keepOutputs = retention.scalar("outputs", required: true, expected: "a time such as `10 years` or `90 days`, or `never`",
                                           example: "10 years") { OutputRetention.Keep(text: $0) }
            retention.finish()
            let retained: [JobKind: OutputRetention.Kind] = [.export: .export, .report: .report, .archive: .archive]
            if let keepOutputs, let kind {
                if let outputKind = retained[kind] {
                    if let problem = OutputRetention.problem(keepOutputs, kind: outputKind) {
                        retention.error("outputs", line: retention.line(of: "outputs"), problem,
                                        fix: "keep them `\(OutputRetention.regulatoryMinimum)` or longer, or `never`")
                    }
                } else {
                    retention.error("outputs", line: retention.line(of: "outputs"), "a job of kind \(kind.rawValue) publishes no files to keep",
                                    fix: "remove `retention:` (exports, reports and archives keep their files)")
                }
            }
        }
        if Set(deliverTo).count != deliverTo.count {
            top.error("deliver_to", line: top.line(of: "deliver_to"), "a delivery target is named twice", fix: "name each target once")
        }

        var action: JobAction?
        let sections: [JobKind: String] = [.aggregation: "aggregation", .calculation: "calculation", .export: "export", .report: "report",
                                           .archive: "archive"]
        for (sectionKind, section) in sections where sectionKind != kind && top.has(section) {
            top.error(section, line: nil, "a `\(section):` section does not belong to a job of kind \(kind?.rawValue ?? "?")",
                      fix: "remove the section or set `kind: \(section)`")
        }
        func sqlFile(_ reader: MappingReader, _ key: String, example: String) -> String? {
            guard let relative = reader.string(key, example: example) else { return nil }
            let full: String
            switch ConfigText.inside(settings.sqlDirectory, relative) {
            case let .success(path): full = path
            case let .failure(failure):
                reader.error(key, line: reader.line(of: key), "SQL path \(failure.problem)", fix: failure.fix)
                return nil
            }
            if case let .failure(failure) = ConfigText.read(full) {
                let problem = failure.problem == ConfigText.Failure.missing
                    ? "SQL file \(relative) does not exist under \(settings.sqlDirectory)" : "SQL file \(relative) \(failure.problem)"
                let fix = failure.problem == ConfigText.Failure.missing
                    ? "create sql/\(relative) or correct the path (relative to sql/)" : failure.fix
                reader.error(key, line: reader.line(of: key), problem, fix: fix)
                return nil
            }
            return relative
        }
        switch kind {
        case .aggregation:
            if let section = top.mapping("aggregation", required: true, example: "`sql: jobs/NAME.sql`") {
                if let sql = sqlFile(section, "sql", example: "jobs/\(stem).sql") { action = .aggregation(sql: sql) }
                section.finish()
            }
        case .calculation:
            if let section = top.mapping("calculation", required: true, example: "`stage: jobs/NAME/stage.sql`") {
                let staging = sqlFile(section, "staging", example: "jobs/\(stem)/staging.sql")
                let stage = sqlFile(section, "stage", example: "jobs/\(stem)/stage.sql")
                let apply = sqlFile(section, "apply", example: "jobs/\(stem)/apply.sql")
                let key = section.scalar("key", required: true, expected: "a column name", example: "delivery_id") {
                    (try? /^[a-z_][a-z0-9_]*$/.wholeMatch(in: $0)) != nil ? $0 : nil
                }
                let chunk = section.int("chunk_size", range: 1...100_000, example: "1000") ?? 1000
                let keys = section.has("keys") ? sqlFile(section, "keys", example: "jobs/\(stem)/keys.sql") : nil
                let maxRejects = section.int("max_rejects", range: 0...1_000_000, example: "50") ?? 50
                var checks: [CalculationCheck] = []
                for (i, item) in (section.sequence("checks", required: false, example: "a list of `{name: ..., sql: ...}`") ?? []).enumerated() {
                    guard let entry = MappingReader(item, file: section.file, prefix: "\(section.path("checks"))[\(i)]",
                                                    diagnostics: section.diagnostics) else { continue }
                    let name = entry.string("name", example: "totals reconcile")
                    let sql = sqlFile(entry, "sql", example: "jobs/\(stem)/check_totals.sql")
                    if let name, checks.contains(where: { $0.name == name }) {
                        entry.error("name", line: entry.line(of: "name"), "check \(name) is listed twice", fix: "give each check its own name")
                    }
                    entry.finish()
                    if let name, let sql { checks.append(CalculationCheck(name: name, sql: sql)) }
                }
                if let staging, let stage, let apply, let key {
                    action = .calculation(CalculationSpec(stagingSQL: staging, stageSQL: stage, applySQL: apply,
                                                          keyColumn: key, chunkSize: chunk, keysSQL: keys, maxRejects: maxRejects,
                                                          checks: checks))
                }
                section.finish()
            }
        case .export:
            if let section = top.mapping("export", required: true, example: "`query: jobs/NAME.sql`") {
                let query = sqlFile(section, "query", example: "jobs/\(stem).sql")
                let fileName = section.scalar("file", required: true, expected: "a file name without directories",
                                              example: "deliveries-{date}") {
                    (try? /^[A-Za-z0-9_{}.-]+$/.wholeMatch(in: $0)) != nil ? $0 : nil
                }
                let rows = section.int("rows_per_file", range: 1...10_000_000, example: "50000") ?? 50_000
                let recipients = section.stringList("recipients", example: "[\(settings.recipient)]") ?? [settings.recipient]
                let format = section.scalar("format", required: false, expected: "zip or tar.zst", example: "zip") {
                    ExportFormat(rawValue: $0)
                } ?? .zip
                let customerData = section.bool("customer_data") ?? false
                let sign = section.bool("sign") ?? false
                let key = section.has("key") ? section.scalar("key", required: true, expected: "a column name", example: "delivery_id") {
                    (try? /^[a-z_][a-z0-9_]*$/.wholeMatch(in: $0)) != nil ? $0 : nil
                } : nil
                if customerData && recipients.isEmpty {
                    section.error("recipients", line: section.line(of: "recipients"),
                                  "the export carries customer data (customer_data: true) but has no recipient, so it would be written unencrypted",
                                  fix: "list the OpenPGP recipients under `recipients:` (or remove the key to use export.recipient)")
                }
                if sign && settings.signingKey == nil {
                    section.error("sign", line: section.line(of: "sign"), "the export is to be signed but no signing key is configured",
                                  fix: "set export.signing_key in etc/nightshift.yaml (a key whose secret part is in the keyring) or set `sign: false`")
                }
                if let query, let fileName {
                    action = .export(ExportSpec(querySQL: query, fileName: fileName, rowsPerFile: rows, recipients: recipients,
                                                format: format, customerData: customerData, sign: sign, keyColumn: key))
                }
                section.finish()
            }
        case .report:
            if let section = top.mapping("report", required: true, example: "`query: reports/NAME.sql`") {
                action = ReportSection.read(section, stem: stem, settings: settings, sqlFile: sqlFile).map { .report($0) }
                section.finish()
            }
        case .archive:
            if let section = top.mapping("archive", required: true, example: "`table: erp.deliveries`") {
                action = ArchiveSection.read(section, stem: stem, settings: settings, sqlFile: sqlFile).map { .archive($0) }
                section.finish()
            }
        case nil:
            break
        }
        top.finish()

        guard diagnostics.errors.count == before, let name, let kind, let batch, let priority, let action else { return nil }
        return JobDefinition(name: name, description: description, kind: kind, batch: batch, priority: priority,
                             dependsOn: depends, estimateSeconds: estimate * 60, retries: retries, locks: locks,
                             timeoutSeconds: timeout.map { $0 * 60 }, action: action, deliverTo: deliverTo, keepOutputs: keepOutputs)
    }
}
