import Foundation
import Packaging
import PostgresClient

/// Feeds rows from a `COPY ... TO STDOUT (FORMAT csv)` stream into zip entries of at most
/// `rowsPerFile` rows each (`<base>-0001.csv`, …), each starting with the header line, hashing
/// and counting every entry as it goes. Pulled by the encryptor, so memory stays flat.
final class CSVArchiveSource: ArchiveContentSource {
    struct Entry: Codable, Equatable {
        let name: String
        let rows: Int
        let bytes: Int
        let sha256: String
    }

    private let stream: CopyOutStream
    private let header: [UInt8]
    private let baseName: String
    private let rowsPerFile: Int
    private let modified: Int
    private var buffer: [UInt8] = []
    private var hasher = SHA256()
    private var entryOpen = false
    private var entryRows = 0
    private var entryBytes = 0
    private var exhausted = false
    private(set) var entries: [Entry] = []
    var totalRows: Int { entries.reduce(0) { $0 + $1.rows } }

    /// Rows are gathered into buffers of about this size before they reach libarchive.
    static let flushBytes = 64 * 1024

    /// Called after every buffer with the rows so far: a stop point (it may throw to stop).
    private let progress: (Int) throws -> Void

    init(stream: CopyOutStream, header: String, baseName: String, rowsPerFile: Int, modified: Int,
         progress: @escaping (Int) throws -> Void = { _ in }) {
        self.progress = progress
        self.stream = stream
        self.header = Array(header.utf8)
        self.baseName = baseName
        self.rowsPerFile = rowsPerFile
        self.modified = modified
        buffer.reserveCapacity(CSVArchiveSource.flushBytes + 4096)
    }

    func writeNext(into archive: ArchiveStreamWriter) throws -> Bool {
        if !entryOpen {
            if exhausted { return false }
            // Open another file only if another row exists; the first file is always written
            // (an empty day still yields one CSV with its header).
            var first: [UInt8]?
            if !entries.isEmpty {
                guard let row = try stream.next() else {
                    exhausted = true
                    return false
                }
                first = Array(row)
            }
            try archive.beginEntry(path: entryName(entries.count + 1), modified: modified)
            entryOpen = true
            entryRows = 0
            entryBytes = 0
            hasher = SHA256()
            buffer.append(contentsOf: header)
            if let first {
                buffer.append(contentsOf: first)
                entryRows = 1
            }
        }
        while buffer.count < CSVArchiveSource.flushBytes && entryRows < rowsPerFile {
            guard let row = try stream.next() else {
                exhausted = true
                break
            }
            buffer.append(contentsOf: row)
            entryRows += 1
        }
        try flush(into: archive)
        try progress(totalRows + entryRows)
        if exhausted || entryRows == rowsPerFile {
            try archive.finishEntry()
            entryOpen = false
            entries.append(Entry(name: entryName(entries.count + 1), rows: entryRows, bytes: entryBytes, sha256: try hasher.finalize()))
        }
        return true
    }

    private func entryName(_ number: Int) -> String {
        "\(baseName)-\(String(format: "%04d", number)).csv"
    }

    private func flush(into archive: ArchiveStreamWriter) throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { bytes in
            hasher.update(bytes)
            try archive.write(bytes)
        }
        entryBytes += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }
}
