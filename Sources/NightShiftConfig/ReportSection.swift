import Foundation
import NightShiftCore

/// The `report:` section of a job file: the query, its parameters, and the outputs.
///
///     report:
///       query: reports/branch_sales.sql      # named parameters: :business_date, :time_zone, and parameters below
///       parameters: {min_amount: "0"}
///       fetch_size: 10000
///       customer_data: true                   # every file OpenPGP-encrypted as it is written (NAME.gpg)
///       recipients: [statements@example]      # default: export.recipient
///       outputs:
///         - format: csv                       # csv | fixed | html | xlsx
///           file: branch-sales-{date}
///           encoding: utf-8                   # utf-8 | big5
///           bom: true                         # csv in utf-8 only
///           excel: true                       # csv: neutralise cells Excel would run as formulas (default: as bom)
///           compress: gzip                    # gzip | zstd
///           split_rows: 100000                # and/or split_megabytes: 50
///         - format: fixed
///           file: branch-sales-{date}
///           encoding: big5
///           line_ending: crlf                 # crlf | lf
///           fields:
///             - {column: branch, width: 8}
///             - {column: revenue, width: 14, align: right, pad: "0"}
///           trailer: true
///           total: revenue
///           total_width: 18
///         - format: html
///           file: branch-sales-{date}
///           template: reports/branch_sales.html.mustache   # in templates/
///           group_by: branch
///           totals: [revenue]
///           max_group_rows: 10000
///         - format: xlsx                      # Excel: typed cells, a bold header row
///           file: branch-sales-{date}
///           sheet: 分店營收                    # default: the job's name; then "分店營收 2", … (1–31 characters)
///           sheet_rows: 1048575               # rows per sheet below the header (Excel's limit, the default)
///           split_rows: 5000000               # a new workbook past this many rows (optional)
enum ReportSection {
    static func read(_ section: MappingReader, stem: String, settings: RunnerSettings,
                     sqlFile: (MappingReader, String, String) -> String?) -> ReportSpec? {
        let before = section.diagnostics.errors.count
        let query = sqlFile(section, "query", "reports/\(stem).sql")
        var parameters: [String: String] = [:]
        if let map = section.mapping("parameters", required: false, example: "`{branch: TPE}`") {
            for (key, value, line) in map.scalarPairs() {
                if (try? /^[a-z_][a-z0-9_]*$/.wholeMatch(in: key)) == nil {
                    map.error(key, line: line, "`\(key)` is not a parameter name", fix: "use lower-case letters, digits and underscores")
                } else if ["business_date", "time_zone"].contains(key) {
                    map.error(key, line: line, ":\(key) is set by the runner", fix: "remove it from parameters")
                }
                parameters[key] = value
            }
        }
        let fetch = section.int("fetch_size", range: 100...1_000_000, example: "10000") ?? 10_000
        let customerData = section.bool("customer_data") ?? false
        let recipients = section.stringList("recipients", example: "[\(settings.recipient)]")
        if recipients != nil, !customerData {
            section.error("recipients", line: section.line(of: "recipients"),
                          "recipients are for a report that holds customer data, and this one does not say `customer_data: true`",
                          fix: "add `customer_data: true` to encrypt its files to them, or remove `recipients:`")
        } else if customerData && recipients?.isEmpty == true {
            section.error("recipients", line: section.line(of: "recipients"),
                          "the report carries customer data (customer_data: true) but has no recipient, so it would be written unencrypted",
                          fix: "list the OpenPGP recipients under `recipients:` (or remove the key to use export.recipient)")
        }
        var outputs: [ReportOutput] = []
        let items = section.sequence("outputs", required: true, example: "`- {format: csv, file: NAME-{date}}`") ?? []
        if items.isEmpty && section.has("outputs") {
            section.error("outputs", line: section.line(of: "outputs"), "a report needs at least one output", fix: "list one under `outputs:`")
        }
        for (i, item) in items.enumerated() {
            guard let entry = MappingReader(item, file: section.file, prefix: "\(section.path("outputs"))[\(i)]",
                                            diagnostics: section.diagnostics) else { continue }
            if let output = readOutput(entry, stem: stem, settings: settings) {
                if outputs.contains(where: { $0.file == output.file && $0.fileExtension == output.fileExtension }) {
                    entry.error("file", line: entry.line(of: "file"), "another output of this report writes \(output.file).\(output.fileExtension)",
                                fix: "give each output its own file name")
                }
                outputs.append(output)
            }
            entry.finish()
        }
        guard section.diagnostics.errors.count == before, let query else { return nil }
        return ReportSpec(querySQL: query, parameters: parameters, fetchSize: fetch, outputs: outputs,
                          customerData: customerData, recipients: recipients ?? [settings.recipient])
    }

    private static func readOutput(_ entry: MappingReader, stem: String, settings: RunnerSettings) -> ReportOutput? {
        let before = entry.diagnostics.errors.count
        let kind = entry.scalar("format", required: true, expected: "csv, fixed, html or xlsx", example: "csv") {
            ["csv", "fixed", "html", "xlsx"].contains($0) ? $0 : nil
        }
        let file = entry.scalar("file", required: true, expected: "a file name without directories or extension", example: "\(stem)-{date}") {
            (try? /^[A-Za-z0-9_{}.-]+$/.wholeMatch(in: $0)) != nil && !$0.hasPrefix(".") ? $0 : nil
        }
        let encoding = entry.scalar("encoding", required: false, expected: "utf-8 or big5", example: "utf-8") {
            ReportOutput.Encoding(rawValue: $0.lowercased())
        } ?? .utf8
        let compression = entry.scalar("compress", required: false, expected: "gzip or zstd", example: "gzip") {
            ReportOutput.Compression(rawValue: $0)
        }
        let splitRows = entry.int("split_rows", range: 1...100_000_000, example: "100000")
        let splitMegabytes = entry.int("split_megabytes", range: 1...100_000, example: "50")
        var format: ReportOutput.Format?
        switch kind {
        case "csv":
            let bom = entry.bool("bom") ?? false
            if bom && encoding != .utf8 {
                entry.error("bom", line: entry.line(of: "bom"), "a byte-order mark is for UTF-8 files only", fix: "remove `bom:` or use `encoding: utf-8`")
            }
            format = .csv(bom: bom, forExcel: entry.bool("excel") ?? bom)
        case "fixed":
            format = readLayout(entry).map { .fixedWidth($0) }
        case "html":
            let template = entry.string("template", example: "reports/\(stem).html.mustache")
            if let template {
                switch ConfigText.inside(settings.templatesDirectory, template) {
                case let .failure(failure): entry.error("template", line: entry.line(of: "template"), failure.problem, fix: failure.fix)
                case let .success(path) where !FileManager.default.fileExists(atPath: path):
                    entry.error("template", line: entry.line(of: "template"), "templates/\(template) does not exist",
                                fix: "write the Mustache template there or correct the path (relative to templates/)")
                case .success: break
                }
            }
            if encoding != .utf8 {
                entry.error("encoding", line: entry.line(of: "encoding"), "HTML reports are written in UTF-8", fix: "remove `encoding:`")
            }
            if splitRows != nil || splitMegabytes != nil {
                entry.error(splitRows != nil ? "split_rows" : "split_megabytes", line: nil, "an HTML report is one page and is not split",
                            fix: "remove the split, or write the rows as CSV")
            }
            let groupBy = entry.string("group_by", required: false, example: "branch")
            let totals = entry.stringList("totals", example: "[revenue]") ?? []
            let maxGroup = entry.int("max_group_rows", range: 1...1_000_000, example: "10000") ?? 10_000
            if let template { format = .html(template: template, groupBy: groupBy, totals: totals, maxGroupRows: maxGroup) }
        case "xlsx":
            if encoding != .utf8 {
                entry.error("encoding", line: entry.line(of: "encoding"), "an Excel workbook holds Unicode text, so it has no encoding to choose",
                            fix: "remove `encoding:` (write a CSV output for Big5)")
            }
            if compression != nil {
                entry.error("compress", line: entry.line(of: "compress"), "an .xlsx file is a zip archive already", fix: "remove `compress:`")
            }
            if splitMegabytes != nil {
                entry.error("split_megabytes", line: entry.line(of: "split_megabytes"),
                            "a workbook's size is known only once it is written, so it cannot be split by size",
                            fix: "split it by rows (`split_rows:`) instead")
            }
            var sheet = SheetName.from(stem)
            if let named = entry.string("sheet", required: false, example: sheet) {
                if let problem = SheetName.problem(named) {
                    entry.error("sheet", line: entry.line(of: "sheet"), problem,
                                fix: "name the sheet with 1–31 characters, none of [ ] : * ? / \\ (or remove `sheet:` to use `\(sheet)`)")
                }
                sheet = named
            }
            let sheetRows = entry.int("sheet_rows", range: 1...SheetName.maxDataRows, example: "\(SheetName.maxDataRows)") ?? SheetName.maxDataRows
            format = .xlsx(sheet: sheet, sheetRows: sheetRows)
        default:
            break
        }
        guard entry.diagnostics.errors.count == before, let file, let format else { return nil }
        return ReportOutput(file: file, format: format, encoding: encoding, compression: compression, splitRows: splitRows,
                            splitBytes: splitMegabytes.map { $0 * 1_048_576 })
    }

    private static func readLayout(_ entry: MappingReader) -> FixedWidthLayout? {
        let before = entry.diagnostics.errors.count
        var fields: [FixedWidthLayout.Field] = []
        let items = entry.sequence("fields", required: true, example: "`- {column: branch, width: 8}`") ?? []
        for (i, item) in items.enumerated() {
            guard let field = MappingReader(item, file: entry.file, prefix: "\(entry.path("fields"))[\(i)]", diagnostics: entry.diagnostics) else { continue }
            let column = field.string("column", example: "branch")
            let width = field.int("width", required: true, range: 1...10_000, example: "8")
            let align = field.scalar("align", required: false, expected: "left or right", example: "right") {
                FixedWidthLayout.Field.Alignment(rawValue: $0)
            } ?? .left
            let pad = field.scalar("pad", required: false, expected: "\" \" or \"0\"", example: "\"0\"") {
                $0 == " " || $0 == "0" ? Character($0) : nil
            } ?? " "
            field.finish()
            if let column, let width { fields.append(.init(column: column, width: width, alignment: align, pad: pad)) }
        }
        if items.isEmpty && entry.has("fields") {
            entry.error("fields", line: entry.line(of: "fields"), "a fixed-width layout needs at least one field", fix: "list the fields")
        }
        let ending = entry.scalar("line_ending", required: false, expected: "crlf or lf", example: "crlf") {
            ["crlf": "\r\n", "lf": "\n"][$0]
        } ?? "\r\n"
        let trailer = entry.bool("trailer") ?? true
        let total = entry.string("total", required: false, example: "revenue")
        let totalWidth = entry.int("total_width", range: 1...40, example: "18") ?? 18
        guard entry.diagnostics.errors.count == before, !fields.isEmpty else { return nil }
        return FixedWidthLayout(fields: fields, lineEnding: ending, trailer: trailer, totalColumn: total, totalWidth: totalWidth)
    }
}
