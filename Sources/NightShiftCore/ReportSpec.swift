/// A report job: one query, read in chunks of `fetchSize` rows through a cursor, written to one
/// or more files as the rows arrive (CSV, fixed-width, HTML), never held whole.
public struct ReportSpec: Sendable, Equatable {
    /// The query (in sql/) with named parameters: `:business_date`, `:time_zone` and the job's own.
    public let querySQL: String
    /// The job's own named parameters (`parameters:`), bound as text.
    public let parameters: [String: String]
    /// Rows fetched per round trip.
    public let fetchSize: Int
    public let outputs: [ReportOutput]
    /// The report holds customer data (`customer_data: true`): every file is written
    /// OpenPGP-encrypted to `recipients` as it is produced (`<name>.gpg`), never plaintext on disk.
    public let customerData: Bool
    /// OpenPGP recipients of a customer-data report (empty otherwise).
    public let recipients: [String]

    public init(querySQL: String, parameters: [String: String] = [:], fetchSize: Int = 10_000, outputs: [ReportOutput],
                customerData: Bool = false, recipients: [String] = []) {
        self.querySQL = querySQL
        self.parameters = parameters
        self.fetchSize = fetchSize
        self.outputs = outputs
        self.customerData = customerData
        self.recipients = customerData ? recipients : []
    }
}

/// One file (or series of files, when split) a report writes.
public struct ReportOutput: Sendable, Equatable {
    public enum Format: Sendable, Equatable {
        /// `forExcel`: cells Excel would run as formulas are neutralised (`CSVText`).
        case csv(bom: Bool, forExcel: Bool)
        case fixedWidth(FixedWidthLayout)
        /// A Mustache template (in templates/), rendered per group of rows with their totals.
        case html(template: String, groupBy: String?, totals: [String], maxGroupRows: Int)
        /// An Excel workbook (libxlsxwriter): a bold header row, typed cells (`SpreadsheetCell`), a
        /// new sheet (`sheet`, `sheet 2`, …) every `sheetRows` rows, before Excel's limit.
        case xlsx(sheet: String, sheetRows: Int)
    }

    public enum Encoding: String, Sendable, Equatable, CaseIterable {
        case utf8 = "utf-8"
        /// Traditional Chinese for the office's legacy tools (Big5 through iconv).
        case big5
    }

    public enum Compression: String, Sendable, Equatable, CaseIterable {
        case gzip, zstd
        public var fileExtension: String { self == .gzip ? "gz" : "zst" }
    }

    /// Base name; `{date}` becomes the business date. The extension follows the format.
    public let file: String
    public let format: Format
    public let encoding: Encoding
    public let compression: Compression?
    /// Start another file past this many rows / bytes (nil: never). Each file repeats the header
    /// (CSV) or has its own trailer (fixed-width).
    public let splitRows: Int?
    public let splitBytes: Int?

    public init(file: String, format: Format, encoding: Encoding = .utf8, compression: Compression? = nil,
                splitRows: Int? = nil, splitBytes: Int? = nil) {
        self.file = file
        self.format = format
        self.encoding = encoding
        self.compression = compression
        self.splitRows = splitRows
        self.splitBytes = splitBytes
    }

    public var fileExtension: String {
        switch format {
        case .csv: "csv"
        case .fixedWidth: "txt"
        case .html: "html"
        case .xlsx: "xlsx"
        }
    }

    public func baseName(for date: LocalDate) -> String {
        file.replacingOccurrences(of: "{date}", with: date.description)
    }
}

/// A fixed-width record layout: each field's column, width in bytes of the file's encoding,
/// alignment and padding; records end with CRLF or LF. With a trailer, each file ends with
/// one record:
///
///     T<row count, 10 digits><control total of `totalColumn`, totalWidth, zero-padded, right-aligned><SHA-256 of the detail records, 64 hex>
///
/// padded with spaces to the record length. The SHA-256 covers every detail record's bytes as
/// written (encoding and line endings included), so the receiver recomputes it from the file.
public struct FixedWidthLayout: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        public enum Alignment: String, Sendable, CaseIterable { case left, right }
        public let column: String
        public let width: Int
        public let alignment: Alignment
        /// " " or "0" (zeros go after a minus sign).
        public let pad: Character

        public init(column: String, width: Int, alignment: Alignment = .left, pad: Character = " ") {
            self.column = column
            self.width = width
            self.alignment = alignment
            self.pad = pad
        }
    }

    public let fields: [Field]
    public let lineEnding: String
    public let trailer: Bool
    /// The column summed into the trailer's control total (nil: zero).
    public let totalColumn: String?
    public let totalWidth: Int

    public init(fields: [Field], lineEnding: String = "\r\n", trailer: Bool = true, totalColumn: String? = nil, totalWidth: Int = 18) {
        self.fields = fields
        self.lineEnding = lineEnding
        self.trailer = trailer
        self.totalColumn = totalColumn
        self.totalWidth = totalWidth
    }

    public var recordWidth: Int { fields.reduce(0) { $0 + $1.width } }
}
