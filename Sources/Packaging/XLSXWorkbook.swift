import CXlsxWriter
import Foundation

/// An Excel workbook written by libxlsxwriter in constant-memory mode: rows go to a temporary file
/// per sheet as they are written (in `temporaryDirectory`, unlinked at once), so memory holds one
/// row whatever the row count. Rows must come in order. `close()` writes the .xlsx to `path`;
/// until then nothing is at `path`. Every libxlsxwriter error becomes a `SpreadsheetError`.
///
/// Cells: text (as is: a cell starting with `=` is text, never a formula), numbers, booleans, dates
/// and date-times (typed, with a number format so Excel shows them as dates).
public final class XLSXWorkbook {
    public let path: String
    private var workbook: UnsafeMutablePointer<lxw_workbook>?
    private var sheet: UnsafeMutablePointer<lxw_worksheet>?
    private var sheetName = ""
    private let temporaryDirectory: UnsafeMutablePointer<CChar>
    private let bold: UnsafeMutablePointer<lxw_format>
    private let dateFormat: UnsafeMutablePointer<lxw_format>
    private let dateTimeFormat: UnsafeMutablePointer<lxw_format>

    /// Excel's limits: rows per sheet (the header included) and characters per cell.
    public static let maxRows = 1_048_576
    public static let maxCellCharacters = 32_767

    public init(path: String, temporaryDirectory: String) throws {
        self.path = path
        self.temporaryDirectory = strdup(temporaryDirectory)
        var options = lxw_workbook_options(constant_memory: UInt8(LXW_TRUE.rawValue), tmpdir: self.temporaryDirectory,
                                           use_zip64: UInt8(LXW_FALSE.rawValue))
        guard let workbook = workbook_new_opt(path, &options) else {
            free(self.temporaryDirectory)
            throw SpreadsheetError(code: Int32(LXW_ERROR_MEMORY_MALLOC_FAILED.rawValue), message: "the workbook could not be created",
                                   context: "creating \(path)")
        }
        self.workbook = workbook
        bold = workbook_add_format(workbook)
        format_set_bold(bold)
        dateFormat = workbook_add_format(workbook)
        format_set_num_format(dateFormat, "yyyy-mm-dd")
        dateTimeFormat = workbook_add_format(workbook)
        format_set_num_format(dateTimeFormat, "yyyy-mm-dd hh:mm:ss")
    }

    /// Frees a workbook that was never closed; nothing is written.
    deinit {
        abandon()
        free(temporaryDirectory)
    }

    /// Starts a sheet; the rows written next go there, from row 0.
    public func addSheet(named name: String) throws {
        let workbook = try open("adding sheet \(name)")
        let check = workbook_validate_sheet_name(workbook, name)
        guard check == LXW_NO_ERROR else { throw SpreadsheetError(check, context: "adding sheet \"\(name)\" to \(path)") }
        guard let added = workbook_add_worksheet(workbook, name) else {
            throw SpreadsheetError(code: Int32(LXW_ERROR_CREATING_TMPFILE.rawValue),
                                   message: "the sheet could not be added (its temporary file could not be created)",
                                   context: "adding sheet \"\(name)\" to \(path)")
        }
        sheet = added
        sheetName = name
    }

    /// A header row: bold, frozen above the rows, each column as wide as its title (10 to 50).
    public func writeHeader(_ titles: [String]) throws {
        let sheet = try currentSheet("writing the header")
        for (column, title) in titles.enumerated() {
            try check(worksheet_write_string(sheet, 0, lxw_col_t(column), title, bold), row: 0, column: column)
            let width = title.unicodeScalars.reduce(0) { $0 + ($1.value >= 0x1100 ? 2 : 1) } + 2
            try check(worksheet_set_column(sheet, lxw_col_t(column), lxw_col_t(column), Double(min(max(width, 10), 50)), nil),
                      row: 0, column: column)
        }
        worksheet_freeze_panes(sheet, 1, 0)
    }

    public func writeText(_ text: String, row: Int, column: Int) throws {
        try check(worksheet_write_string(try currentSheet("writing"), lxw_row_t(row), lxw_col_t(column), text, nil), row: row, column: column)
    }

    public func writeNumber(_ number: Double, row: Int, column: Int) throws {
        try check(worksheet_write_number(try currentSheet("writing"), lxw_row_t(row), lxw_col_t(column), number, nil), row: row, column: column)
    }

    public func writeBoolean(_ value: Bool, row: Int, column: Int) throws {
        try check(worksheet_write_boolean(try currentSheet("writing"), lxw_row_t(row), lxw_col_t(column), value ? 1 : 0, nil),
                  row: row, column: column)
    }

    /// A date (`hour`, `minute`, `second` zero and `withTime` false) or a date-time.
    public func writeDate(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Double = 0,
                          withTime: Bool, row: Int, column: Int) throws {
        var value = lxw_datetime(year: Int32(year), month: Int32(month), day: Int32(day), hour: Int32(hour), min: Int32(minute), sec: second)
        try check(worksheet_write_datetime(try currentSheet("writing"), lxw_row_t(row), lxw_col_t(column), &value,
                                           withTime ? dateTimeFormat : dateFormat), row: row, column: column)
    }

    /// Writes the .xlsx file to `path` and frees the workbook. Idempotent after success.
    public func close() throws {
        guard let workbook else { return }
        self.workbook = nil
        sheet = nil
        let result = workbook_close(workbook)  // frees the workbook whatever the result
        guard result == LXW_NO_ERROR else {
            _ = unlink(path)
            throw SpreadsheetError(result, context: "writing \(path)")
        }
    }

    /// Frees the workbook without writing it. Idempotent.
    public func abandon() {
        guard let workbook else { return }
        self.workbook = nil
        sheet = nil
        lxw_workbook_free(workbook)
    }

    private func open(_ doing: String) throws -> UnsafeMutablePointer<lxw_workbook> {
        guard let workbook else {
            throw SpreadsheetError(code: -1, message: "the workbook is already closed", context: "\(doing) in \(path)")
        }
        return workbook
    }

    private func currentSheet(_ doing: String) throws -> UnsafeMutablePointer<lxw_worksheet> {
        _ = try open(doing)
        guard let sheet else { throw SpreadsheetError(code: -1, message: "no sheet was added", context: "\(doing) in \(path)") }
        return sheet
    }

    private func check(_ result: lxw_error, row: Int, column: Int) throws {
        guard result != LXW_NO_ERROR else { return }
        throw SpreadsheetError(result, context: "writing row \(row + 1), column \(column + 1) of sheet \"\(sheetName)\" in \(path)")
    }
}

/// A libxlsxwriter failure: its error number, its message and what was being written.
public struct SpreadsheetError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public let context: String

    init(code: Int32, message: String, context: String) {
        self.code = code
        self.message = message
        self.context = context
    }

    init(_ error: lxw_error, context: String) {
        code = Int32(error.rawValue)
        message = lxw_strerror(error).map { String(cString: $0) } ?? "error \(error.rawValue)"
        self.context = context
    }

    public var description: String { "libxlsxwriter failed (error \(code)): \(message) — while \(context)" }
}
