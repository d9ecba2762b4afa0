import Foundation
import NightShiftCore
import Packaging

/// An Excel workbook written as the rows arrive (libxlsxwriter in constant-memory mode: one row in
/// memory). Each sheet starts with the query's column names as a bold, frozen header row; cells
/// are typed from the column's SQL type (`SpreadsheetCell`: numbers, booleans, dates, date-times,
/// text); a new sheet starts every `sheetRows` rows, before Excel's limit, and a new workbook past
/// the output's `split_rows`.
///
/// libxlsxwriter writes a workbook only to a path, when it is closed, so the workbook is built as a
/// hidden scratch file of the attempt next to the outputs and then copied into the file series,
/// which hashes it, encrypts it for a customer-data report, and stages it for publication; the
/// scratch file is removed at once (and a killed attempt's by the leader's staged-file sweep).
final class XLSXReportWriter: ReportWriter {
    private let files: ReportFileSeries
    private let sheet: String
    private let sheetRows: Int
    private let splitRows: Int?
    private let zone: TimeZone
    private let name: String
    private var columns: [String] = []
    private var kinds: [SpreadsheetCell.Kind] = []
    private var workbook: XLSXWorkbook?
    private var sheetNumber = 0
    private var rowInSheet = 0
    private var rowsInWorkbook = 0

    init(output: ReportOutput, files: ReportFileSeries, sheet: String, sheetRows: Int, zone: TimeZone, name: String) {
        self.files = files
        self.sheet = sheet
        self.sheetRows = min(sheetRows, SheetName.maxDataRows)
        splitRows = output.splitRows
        self.zone = zone
        self.name = name
    }

    func begin(columns: [String], types: [UInt32]) throws {
        self.columns = columns
        kinds = types.map(Self.kind)
        try openWorkbook()
    }

    func write(_ values: [String?], number: Int) throws {
        if let splitRows, rowsInWorkbook >= splitRows {
            try closeWorkbook()
            try openWorkbook()
        }
        if rowInSheet > sheetRows { try addSheet() }
        guard let workbook else { preconditionFailure("XLSXReportWriter.write before begin") }
        for (column, value) in values.enumerated() {
            guard let value else { continue }  // NULL: an empty cell
            do {
                switch SpreadsheetCell(value, kind: kinds[column], zone: zone) {
                case let .text(text):
                    if text.isEmpty { continue }
                    let length = text.utf8.reduce(0) { $0 + ($1 & 0xC0 != 0x80 ? 1 : 0) }
                    guard length <= XLSXWorkbook.maxCellCharacters else {
                        throw ReportDataError(output: name, row: number, column: columns[column],
                                              problem: "the text has \(length) characters and an Excel cell holds at most \(XLSXWorkbook.maxCellCharacters)",
                                              fix: "shorten it in the query (left(\(columns[column]), \(XLSXWorkbook.maxCellCharacters))) or write this output as CSV")
                    }
                    try workbook.writeText(text, row: rowInSheet, column: column)
                case let .number(value): try workbook.writeNumber(value, row: rowInSheet, column: column)
                case let .boolean(value): try workbook.writeBoolean(value, row: rowInSheet, column: column)
                case let .date(year, month, day):
                    try workbook.writeDate(year: year, month: month, day: day, withTime: false, row: rowInSheet, column: column)
                case let .dateTime(year, month, day, hour, minute, second):
                    try workbook.writeDate(year: year, month: month, day: day, hour: hour, minute: minute, second: second,
                                           withTime: true, row: rowInSheet, column: column)
                }
            } catch let error as SpreadsheetError {
                throw ReportDataError(output: name, row: number, column: columns[column], problem: error.description,
                                      fix: "correct the value in the query, or write this output as CSV")
            }
        }
        rowInSheet += 1
        rowsInWorkbook += 1
    }

    func finish() throws -> [ReportFileSeries.Written] {
        try closeWorkbook()
        return files.written
    }

    func abandon() {
        workbook?.abandon()
        workbook = nil
        try? FileManager.default.removeItem(atPath: files.scratchPath)
        files.abandon()
    }

    private func openWorkbook() throws {
        try? FileManager.default.removeItem(atPath: files.scratchPath)
        let directory = URL(fileURLWithPath: files.scratchPath).deletingLastPathComponent().path
        workbook = try XLSXWorkbook(path: files.scratchPath, temporaryDirectory: directory)
        sheetNumber = 0
        rowsInWorkbook = 0
        try addSheet()
    }

    private func addSheet() throws {
        guard let workbook else { return }
        sheetNumber += 1
        try workbook.addSheet(named: SheetName.numbered(sheet, sheetNumber))
        do {
            try workbook.writeHeader(columns)
        } catch let error as SpreadsheetError {
            throw ReportDataError(output: name, row: 0, column: "(header)", problem: error.description, fix: "rename the column in the query")
        }
        rowInSheet = 1
    }

    /// Writes the workbook, copies it into the file series (hashed, encrypted when asked, staged)
    /// and removes the scratch file.
    private func closeWorkbook() throws {
        guard let workbook else { return }
        self.workbook = nil
        try workbook.close()
        defer { try? FileManager.default.removeItem(atPath: files.scratchPath) }
        let input = try FileHandle(forReadingFrom: URL(fileURLWithPath: files.scratchPath))
        defer { try? input.close() }
        try files.open()
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
            try files.write([UInt8](chunk))
        }
        try files.write([], rows: rowsInWorkbook)
        try files.close()
    }

    /// How values of a PostgreSQL type (by OID) become cells.
    static func kind(_ type: UInt32) -> SpreadsheetCell.Kind {
        switch type {
        case 20, 21, 23, 26, 700, 701, 1700: .number  // int8, int2, int4, oid, float4, float8, numeric
        case 16: .boolean
        case 1082: .date
        case 1114: .timestamp
        case 1184: .timestampWithZone
        default: .text
        }
    }
}
