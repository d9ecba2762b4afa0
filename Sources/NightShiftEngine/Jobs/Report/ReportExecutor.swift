import Foundation
import NightShiftCore
import Packaging
import PostgresClient

/// Runs a report: binds the query's named parameters, opens a cursor in one read-only snapshot,
/// fetches `fetch_size` rows per round trip and hands each row to every output as it arrives
/// (CSV, fixed-width, HTML), so memory stays flat whatever the row count. Files land in
/// `<reports>/<job>/` under hidden names of the attempt and are published by the runner while it
/// holds the job's lease; files of an earlier, longer run of the same report are retired.
struct ReportExecutor: JobExecutor {
    let spec: ReportSpec

    func execute(_ context: JobContext) throws -> JobOutcome {
        let settings = context.configuration.settings
        let query = try context.configuration.sql(spec.querySQL)
            .trimmingCharacters(in: .whitespacesAndNewlines)
            .trimmingCharacters(in: CharacterSet(charactersIn: ";"))
        var values = spec.parameters
        values["business_date"] = context.businessDate.description
        values["time_zone"] = settings.timeZone.identifier
        let bound: (sql: String, values: [String], used: [String])
        do { bound = try NamedParameters.bind(query, values) } catch {
            throw JobFailure(failureClass: .permanent, sqlState: nil,
                             message: "sql/\(spec.querySQL): \(error). Fix: add it under report.parameters in jobs/\(context.job.name).yaml or correct the name")
        }
        let directory = "\(settings.reportsDirectory)/\(context.job.name)"
        try PrivateFiles.makeDirectory(directory)
        let attempt = "j\(context.jobRunID)a\(context.attempt)"
        let keys = spec.customerData ? try OutputKeys(recipients: spec.recipients, settings: settings) : nil
        let header: [String: Any] = ["title": context.job.description.isEmpty ? context.job.name : context.job.description,
                                     "job": context.job.name, "business_date": context.businessDate.description,
                                     "generated_at": iso8601(context.clock.now())]
        let writers: [ReportWriter] = try spec.outputs.enumerated().map { index, output in
            let files = ReportFileSeries(directory: directory, base: output.baseName(for: context.businessDate), output: output, attempt: attempt, keys: keys)
            let name = "jobs/\(context.job.name).yaml report.outputs[\(index)] (\(output.baseName(for: context.businessDate)).\(output.fileExtension))"
            switch output.format {
            case let .csv(bom, forExcel): return try CSVReportWriter(output: output, files: files, bom: bom, forExcel: forExcel, name: name)
            case let .fixedWidth(layout): return try FixedWidthReportWriter(output: output, files: files, layout: layout, name: name)
            case let .html(template, groupBy, totals, maxGroupRows):
                return try HTMLReportWriter(files: files, templatePath: "\(settings.templatesDirectory)/\(template)", groupBy: groupBy,
                                            totals: totals, maxGroupRows: maxGroupRows, name: name, header: header)
            case let .xlsx(sheet, sheetRows):
                return XLSXReportWriter(output: output, files: files, sheet: sheet, sheetRows: sheetRows, zone: settings.timeZone, name: name)
            }
        }
        let db = context.db
        var rows = 0
        let written: [ReportFileSeries.Written]
        do {
            try db.transaction(begin: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") {
                try db.setParameters(context.parameters)
                try db.execute("DECLARE nightshift_report NO SCROLL CURSOR FOR\n\(bound.sql)", bound.values)  // the job's own query, its named parameters bound
                var began = false
                var row: [String?] = []
                while true {
                    let chunk = try db.query("FETCH FORWARD \(unsafeSQL: String(spec.fetchSize)) FROM nightshift_report")
                    if !began {
                        let columns = (0..<chunk.columnCount).map { chunk.columnName($0) }
                        let types = (0..<chunk.columnCount).map { chunk.columnType($0) }
                        for writer in writers { try writer.begin(columns: columns, types: types) }
                        row = Array(repeating: nil, count: columns.count)
                        began = true
                    }
                    for r in 0..<chunk.rowCount {
                        for c in row.indices { row[c] = chunk.string(r, c) }
                        rows += 1
                        for writer in writers { try writer.write(row, number: rows) }
                    }
                    let fetched = chunk.rowCount
                    chunk.clear()
                    context.control.setProgress(rows: rows)
                    try context.checkpoint()
                    if fetched < spec.fetchSize { break }
                }
                try db.query("CLOSE nightshift_report")
            }
            written = try writers.flatMap { try $0.finish() }
        } catch {
            for writer in writers { writer.abandon() }
            throw error
        }

        let published = Set(written.map(\.final))
        // Files of these outputs from an earlier run (another split, another compression) that this run did not write.
        let patterns = spec.outputs.map { output in
            (base: output.baseName(for: context.businessDate), suffix: ".\(output.fileExtension)")
        }
        let retire = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { name in
            patterns.contains { pattern in
                guard name.hasPrefix(pattern.base) else { return false }
                return name.dropFirst(pattern.base.count).wholeMatch(of: /(-\d{4,})?\.[a-z]+(\.gz|\.zst)?(\.gpg)?/) != nil
                    && name.contains(pattern.suffix)
            }
        }.map { "\(directory)/\($0)" }.filter { !published.contains($0) }
        return JobOutcome(rows: rows,
                          outputs: written.map { JobOutput(kind: .report, path: $0.final, sha256: $0.sha256, bytes: $0.bytes, rows: $0.rows) },
                          note: "\(written.count) file\(written.count == 1 ? "" : "s")",
                          publish: written.map { Publication(staged: $0.staged, final: $0.final) }, retire: retire)
    }
}
