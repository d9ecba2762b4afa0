import NightShiftCore
import Packaging

/// Fixed-width records as the legacy office and bank formats want them: each field padded to its
/// width in bytes of the file's encoding (a Big5 Chinese character is two), numbers right-aligned
/// and zero-padded when declared so, and a trailer per file with the record count, the control
/// total and the SHA-256 of the detail records (see `FixedWidthLayout`). A value wider than its
/// field is an error naming the row and the column; nothing is cut silently.
final class FixedWidthReportWriter: ReportWriter {
    private let files: ReportFileSeries
    private let encoder: ReportEncoder
    private let layout: FixedWidthLayout
    private let name: String
    private var positions: [Int] = []
    private var totalPosition: Int?
    private var columns: [String] = []
    private var hasher = SHA256()
    private var total = DecimalSum()
    private var record: [UInt8] = []
    private var field: [UInt8] = []

    init(output: ReportOutput, files: ReportFileSeries, layout: FixedWidthLayout, name: String) throws {
        self.files = files
        encoder = try ReportEncoder(output.encoding)
        self.layout = layout
        self.name = name
    }

    func begin(columns: [String], types _: [UInt32]) throws {
        self.columns = columns
        positions = try Self.positions(of: layout.fields.map(\.column), in: columns, output: name, key: "fields")
        totalPosition = try layout.totalColumn.map { try Self.positions(of: [$0], in: columns, output: name, key: "total")[0] }
        try startFile()
    }

    private func startFile() throws {
        try files.open()
        hasher = SHA256()
        total = DecimalSum()
    }

    func write(_ values: [String?], number: Int) throws {
        if files.isFull {
            try endFile()
            try startFile()
        }
        record.removeAll(keepingCapacity: true)
        for (spec, position) in zip(layout.fields, positions) {
            let value = values[position] ?? ""
            var text = value
            var sign = ""
            if spec.pad == "0", text.hasPrefix("-") {
                sign = "-"
                text.removeFirst()
            }
            field.removeAll(keepingCapacity: true)
            do {
                try encoder.append(text, to: &field)
            } catch {
                throw ReportDataError(output: name, row: number, column: spec.column, problem: "\(error)",
                                      fix: "write this output in utf-8, or replace the character in the query")
            }
            let padding = spec.width - field.count - sign.utf8.count
            guard padding >= 0 else {
                throw ReportDataError(output: name, row: number, column: spec.column,
                                      problem: "`\(value)` takes \(field.count + sign.utf8.count) bytes, wider than its field of \(spec.width)",
                                      fix: "widen the field in the job's layout, or shorten the value in the query")
            }
            let pad = [UInt8](repeating: spec.pad == "0" ? UInt8(ascii: "0") : UInt8(ascii: " "), count: padding)
            if spec.alignment == .right {
                record.append(contentsOf: sign.utf8)
                record.append(contentsOf: pad)
                record.append(contentsOf: field)
            } else {
                record.append(contentsOf: sign.utf8)
                record.append(contentsOf: field)
                record.append(contentsOf: pad)
            }
        }
        record.append(contentsOf: layout.lineEnding.utf8)
        if let totalPosition {
            do { try total.add(values[totalPosition]) } catch {
                throw ReportDataError(output: name, row: number, column: layout.totalColumn!, problem: "\(error)",
                                      fix: "total a numeric column")
            }
        }
        record.withUnsafeBytes { hasher.update($0) }
        try files.write(record, rows: 1)
    }

    private func endFile() throws {
        if layout.trailer {
            let count = String(files.rowsInFile)
            var amount = total.text
            var sign = ""
            if amount.hasPrefix("-") { sign = "-"; amount.removeFirst() }
            let amountWidth = layout.totalWidth - sign.count
            guard count.count <= 10, amount.count <= amountWidth else {
                throw ReportDataError(output: name, row: files.rowsInFile, column: layout.totalColumn ?? "(trailer)",
                                      problem: "the trailer's control total \(total.text) is wider than total_width \(layout.totalWidth)",
                                      fix: "raise total_width in the job's layout")
            }
            var trailer = "T" + String(repeating: "0", count: 10 - count.count) + count
                + sign + String(repeating: "0", count: amountWidth - amount.count) + amount + (try hasher.finalize())
            if trailer.utf8.count < layout.recordWidth { trailer += String(repeating: " ", count: layout.recordWidth - trailer.utf8.count) }
            try files.write(Array((trailer + layout.lineEnding).utf8))
        }
        try files.close()
    }

    func finish() throws -> [ReportFileSeries.Written] {
        try endFile()
        return files.written
    }

    func abandon() { files.abandon() }
}
