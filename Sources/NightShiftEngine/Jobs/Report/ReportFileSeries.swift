import Foundation
import NightShiftCore
import Packaging

/// A report file that is written as it grows, compressed on the fly when asked, encrypted on the
/// fly when the report holds customer data (`.gpg`: the plaintext never reaches the disk), and
/// followed by another (`-0002`, …) past the output's row or size limit. Files are written under
/// hidden names of the attempt and published by the runner, like exports. Size limits count the
/// plaintext.
final class ReportFileSeries {
    struct Written: Sendable {
        let staged: String
        let final: String
        let rows: Int
        let bytes: Int
        let sha256: String
    }

    private let directory: String
    private let base: String
    private let fileExtension: String
    private let compression: ReportOutput.Compression?
    private let splitRows: Int?
    private let splitBytes: Int?
    private let attempt: String
    private var file: OutputFile?
    private var compressor: ArchiveStreamWriter?
    private let keys: OutputKeys?
    private var encryptor: EncryptingStream?
    private var final = ""
    private(set) var rowsInFile = 0
    private(set) var bytesInFile = 0
    private(set) var written: [Written] = []
    var isOpen: Bool { file != nil }
    var splits: Bool { splitRows != nil || splitBytes != nil }
    /// Where a writer that can only write a whole file to a path (libxlsxwriter) builds it before
    /// it is copied into the series: hidden, of this attempt, private to the runner.
    var scratchPath: String { "\(directory)/.\(base).\(fileExtension).\(attempt).scratch" }

    /// `keys`: encrypt every file to their recipients (nil: plaintext).
    init(directory: String, base: String, output: ReportOutput, attempt: String, keys: OutputKeys? = nil) {
        self.keys = keys
        self.directory = directory
        self.base = base
        fileExtension = output.fileExtension
        compression = output.compression
        splitRows = output.splitRows
        splitBytes = output.splitBytes
        self.attempt = attempt
    }

    /// A file still open when the series goes is dropped; complete files stay for the runner to publish.
    deinit {
        encryptor?.abandon()
        file?.abandon()
    }

    /// True when the file being written is full: the next row belongs in a new file.
    var isFull: Bool {
        guard isOpen else { return false }
        if let splitRows, rowsInFile >= splitRows { return true }
        if let splitBytes, bytesInFile >= splitBytes { return true }
        return false
    }

    func open() throws {
        let number = written.count + 1
        let name = (splits ? "\(base)-\(String(format: "%04d", number))" : base) + ".\(fileExtension)"
            + (compression.map { ".\($0.fileExtension)" } ?? "")
        final = "\(directory)/\(name)" + (keys != nil ? ".gpg" : "")
        let output = try OutputFile(path: StagedOutputs.name(final, attempt: attempt), mode: 0o640)
        file = output
        rowsInFile = 0
        bytesInFile = 0
        if let protection = try keys?.protection() {
            encryptor = EncryptingStream(protection: protection, literalName: name) { bytes in try output.write(bytes) }
        }
        if let compression {
            let format: ArchiveFormat = compression == .gzip ? .gzip(level: 6) : .zstd(level: 3)
            let writer = try ArchiveStreamWriter(name: final, format: format) { [encryptor] bytes in
                if let encryptor { try encryptor.write(bytes) } else { try output.write(bytes) }
            }
            try writer.beginEntry(path: name, modified: 0)
            compressor = writer
        }
    }

    /// Appends bytes (already in the output's encoding); `rows` of them are records.
    func write(_ bytes: [UInt8], rows: Int = 0) throws {
        guard let file else { preconditionFailure("ReportFileSeries.write before open") }
        try bytes.withUnsafeBytes { buffer in
            if let compressor { try compressor.write(buffer) } else if let encryptor { try encryptor.write(buffer) } else { try file.write(buffer) }
        }
        rowsInFile += rows
        bytesInFile += bytes.count
    }

    /// Completes the current file (fsync, rename to its staged name).
    func close() throws {
        guard let file else { return }
        if let compressor { try compressor.close() }
        compressor = nil
        if let encryptor { try encryptor.close() }
        encryptor = nil
        let sha = try file.commit()
        written.append(Written(staged: file.path, final: final, rows: rowsInFile, bytes: file.bytesWritten, sha256: sha))
        self.file = nil
    }

    /// Drops the file being written and what this series staged.
    func abandon() {
        encryptor?.abandon()
        encryptor = nil
        file?.abandon()
        file = nil
        compressor = nil
        for item in written { _ = try? FileManager.default.removeItem(atPath: item.staged) }
        written = []
    }
}

/// A report row that cannot be written as configured: which output, which row, which column,
/// what is wrong and how to fix it.
struct ReportDataError: Error, CustomStringConvertible {
    let output: String
    let row: Int
    let column: String
    let problem: String
    let fix: String
    var description: String { "\(output), row \(row), column \(column): \(problem). Fix: \(fix)" }
}

/// Writes a report's rows to one output, as they arrive.
protocol ReportWriter: AnyObject {
    /// The query's columns and their types (PostgreSQL type OIDs), known at the first fetch.
    func begin(columns: [String], types: [UInt32]) throws
    /// One row: its values as text (nil for NULL), in column order; `number` counts from 1.
    func write(_ values: [String?], number: Int) throws
    /// Ends the last file; returns everything written.
    func finish() throws -> [ReportFileSeries.Written]
    func abandon()
}

extension ReportWriter {
    /// The position of each named column, or an error naming the output and the columns there are.
    static func positions(of names: [String], in columns: [String], output: String, key: String) throws -> [Int] {
        try names.map { name in
            guard let index = columns.firstIndex(of: name) else {
                throw ReportDataError(output: output, row: 0, column: name, problem: "the query returns no column \(name) (named by \(key))",
                                      fix: "use one of \(columns.joined(separator: ", ")) or add \(name) to the query")
            }
            return index
        }
    }
}

/// Encodes UTF-8 text for an output: as is, or through iconv to Big5.
struct ReportEncoder {
    private let transcoder: TextTranscoder?

    init(_ encoding: ReportOutput.Encoding) throws {
        transcoder = encoding == .big5 ? try TextTranscoder(to: "BIG5") : nil
    }

    var isUTF8: Bool { transcoder == nil }

    func append(_ text: String, to bytes: inout [UInt8]) throws {
        if let transcoder { try transcoder.convert(text, into: &bytes) } else { bytes.append(contentsOf: text.utf8) }
    }
}
