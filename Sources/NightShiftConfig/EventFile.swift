import Foundation
import NightShiftCore

/// Reads one event file from the inbox: YAML or JSON (JSON is YAML too), a mapping of
///
///     type: month_end_close_done     # or data_import_finished, maintenance_done, threshold_crossed
///     business_date: 2026-11-30
///     priority: P2                   # P1–P4
///     source: erp-finance            # who sent it (a name)
///     job: delivery_charges          # optional: run this job alone instead of the type's batch
///     note: "closed by finance"      # optional, free text
///
/// Every problem is a rejection that names the field (and line) and the fix; unknown keys are
/// rejections too. Nothing here touches the disk or the database.
public enum EventFile {
    public static func parse(_ data: Data, jobs: [JobDefinition], today: LocalDate) -> Result<InboxEvent, EventRejection> {
        guard data.count <= InboxEventRules.maxFileBytes else {
            return .failure(EventRejection(field: nil, problem: "the file has \(data.count) bytes, more than \(InboxEventRules.maxFileBytes)",
                                           fix: "an event is a few lines: type, business_date, priority, source"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(EventRejection(field: nil, problem: "the file is not UTF-8 text", fix: "write the event as UTF-8 YAML or JSON"))
        }
        if text.unicodeScalars.contains("\u{0}") {
            return .failure(EventRejection(field: nil, problem: "the file contains NUL bytes (binary data)", fix: "write the event as YAML or JSON text"))
        }
        let diagnostics = Diagnostics()
        let file = "event"
        guard let node = parseYAML(text, file: file, diagnostics: diagnostics),
              let top = MappingReader(node, file: file, prefix: "", diagnostics: diagnostics) else {
            return .failure(rejection(diagnostics.errors.first))
        }
        let type = top.scalar("type", required: true, expected: "one of \(EventType.allCases.map(\.rawValue).joined(separator: ", "))",
                              example: EventType.dataImportFinished.rawValue) { EventType(rawValue: $0) }
        let date = top.scalar("business_date", required: true, expected: "a date YYYY-MM-DD", example: "\(today)") { LocalDate(iso: $0) }
        let priority = top.scalar("priority", required: true, expected: "P1, P2, P3 or P4", example: "P2") { Priority(text: $0) }
        let source = top.string("source", example: "erp-finance")
        let job = top.string("job", required: false, example: "delivery_charges")
        let note = top.string("note", required: false, example: "\"closed by finance\"")
        top.finish()
        if let first = diagnostics.errors.first { return .failure(rejection(first)) }
        guard let type, let date, let priority, let source else { return .failure(rejection(nil)) }

        if let problem = InboxEventRules.dateProblem(date, today: today) {
            return .failure(EventRejection(field: "business_date", line: top.line(of: "business_date"), problem: problem,
                                           fix: "give the business date the event is about, within the last \(InboxEventRules.maxDaysBack) days"))
        }
        for (field, value) in [("source", source), ("job", job ?? "")] where !value.isEmpty {
            if let why = InboxEventRules.suspicious(value) {
                return .failure(EventRejection(field: field, line: top.line(of: field), problem: "`\(value.prefix(80))` \(why)",
                                               fix: "give a plain name (letters, digits, _ . -)"))
            }
            if !InboxEventRules.isName(value) {
                return .failure(EventRejection(field: field, line: top.line(of: field), problem: "`\(value.prefix(80))` is not a name",
                                               fix: "use letters, digits, _ . - (at most 64), e.g. erp-finance"))
            }
        }
        if let note {
            if let why = InboxEventRules.suspicious(note) {
                return .failure(EventRejection(field: "note", line: top.line(of: "note"), problem: "the note \(why)",
                                               fix: "write the note as plain words"))
            }
            if note.count > 500 {
                return .failure(EventRejection(field: "note", line: top.line(of: "note"), problem: "the note has \(note.count) characters",
                                               fix: "keep it under 500"))
            }
        }
        if let job {
            guard let definition = jobs.first(where: { $0.name == job }) else {
                return .failure(EventRejection(field: "job", line: top.line(of: "job"), problem: "\(job) is not a configured job",
                                               fix: "name a job of jobs/*.yaml, or leave `job` out to run the type's batch"))
            }
            if type == .monthEndCloseDone {
                return .failure(EventRejection(field: "job", line: top.line(of: "job"),
                                               problem: "a month_end_close_done event releases the monthly batch; it runs no job of its own",
                                               fix: "leave `job` out (\(definition.name) can be asked for with a data_import_finished event)"))
            }
        }
        return .success(InboxEvent(type: type, businessDate: date, priority: priority, source: source, job: job, note: note))
    }

    private static func rejection(_ error: ConfigError?) -> EventRejection {
        guard let error else { return EventRejection(field: nil, problem: "the event could not be read", fix: "write it as YAML or JSON") }
        return EventRejection(field: error.key.isEmpty ? nil : error.key, line: error.line, problem: error.problem, fix: error.fix)
    }
}
