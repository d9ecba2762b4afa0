import NightShiftCore
import Packaging

/// CSV as the office opens it (RFC 4180 through `CSVText`: CRLF line ends, quotes where needed),
/// in UTF-8 (with a byte-order mark for Excel when asked) or Big5; for Excel, cells that would run
/// as formulas are neutralised. Every file of a split starts with the header line.
final class CSVReportWriter: ReportWriter {
    private let files: ReportFileSeries
    private let encoder: ReportEncoder
    private let bom: Bool
    private let forExcel: Bool
    private let name: String
    private var header: [UInt8] = []
    private var columns: [String] = []
    private var line: [UInt8] = []

    init(output: ReportOutput, files: ReportFileSeries, bom: Bool, forExcel: Bool, name: String) throws {
        self.files = files
        encoder = try ReportEncoder(output.encoding)
        self.bom = bom && output.encoding == .utf8
        self.forExcel = forExcel
        self.name = name
    }

    func begin(columns: [String], types _: [UInt32]) throws {
        self.columns = columns
        header = bom ? [0xEF, 0xBB, 0xBF] : []
        do {
            try encoder.append(CSVText.record(columns, forExcel: forExcel) + "\r\n", to: &header)
        } catch {
            throw ReportDataError(output: name, row: 0, column: "(header)", problem: "\(error)", fix: "rename the column in the query")
        }
        try files.open()
        try files.write(header)
    }

    func write(_ values: [String?], number: Int) throws {
        if files.isFull {
            try files.close()
            try files.open()
            try files.write(header)
        }
        line.removeAll(keepingCapacity: true)
        for (i, value) in values.enumerated() {
            if i > 0 { line.append(UInt8(ascii: ",")) }
            guard let value, !value.isEmpty else { continue }
            do {
                try encoder.append(CSVText.field(value, forExcel: forExcel), to: &line)
            } catch {
                throw ReportDataError(output: name, row: number, column: columns[i], problem: "\(error)",
                                      fix: "write this output in utf-8, or replace the character in the query")
            }
        }
        line.append(contentsOf: [0x0D, 0x0A])
        try files.write(line, rows: 1)
    }

    func finish() throws -> [ReportFileSeries.Written] {
        try files.close()
        return files.written
    }

    func abandon() { files.abandon() }
}
