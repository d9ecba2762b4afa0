import Foundation
import Packaging

/// One table's rows inside an archive: the entry `<schema.table>.copy` in PostgreSQL's COPY text
/// format (one line per row, so rows are counted by newlines), its columns, and its size and
/// SHA-256. Recorded in the catalog (`tables`) and in the archive's own `archive.json`, so both
/// the runner and anyone holding only the file can check it.
struct ArchiveTableData: Codable, Equatable, Sendable {
    struct Column: Codable, Equatable, Sendable {
        let name: String
        let type: String
    }

    let table: String
    let entry: String
    let columns: [Column]
    let rows: Int
    let bytes: Int
    let sha256: String

    static func entryName(_ table: String) -> String { "\(table).copy" }
}

/// What `archive.json` inside every archive says about it.
struct ArchiveDescription: Codable, Equatable, Sendable {
    var format = "nightshift-archive/1"
    let catalogId: Int
    let job: String
    let businessDate: String
    let table: String
    let keyColumn: String
    let firstKey: String
    let lastKey: String
    let cutoff: String
    let createdAt: String
    let tables: [ArchiveTableData]

    static let entryName = "archive.json"

    enum CodingKeys: String, CodingKey {
        case format, job, table, cutoff, tables
        case catalogId = "catalog_id", businessDate = "business_date", keyColumn = "key_column"
        case firstKey = "first_key", lastKey = "last_key", createdAt = "created_at"
    }

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// Counts rows (newlines) and hashes an entry's bytes as they stream by.
final class EntryTally {
    private let hasher = SHA256()
    private(set) var rows = 0
    private(set) var bytes = 0

    func add(_ data: UnsafeRawBufferPointer) {
        hasher.update(data)
        bytes += data.count
        for byte in data where byte == 0x0A { rows += 1 }
    }

    func sha256() throws -> String { try hasher.finalize() }

    /// Reads the rest of the reader's current entry, passing each buffer on to `each`.
    static func drain(_ reader: ArchiveStreamReader, each: (UnsafeRawBufferPointer) throws -> Void = { _ in }) throws -> EntryTally {
        let tally = EntryTally()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { break }
            try buffer.withUnsafeBytes { bytes in
                let slice = UnsafeRawBufferPointer(rebasing: bytes[0..<n])
                tally.add(slice)
                try each(slice)
            }
        }
        return tally
    }
}

/// Serves an archive's entries (each table's COPY data, then `archive.json`) to libarchive.
final class ArchiveChunkSource: ArchiveContentSource {
    private var entries: [(name: String, data: [UInt8])]
    private let modified: Int
    private var index = 0
    private var offset = 0
    private var begun = false

    init(entries: [(name: String, data: [UInt8])], modified: Int) {
        self.entries = entries
        self.modified = modified
    }

    func writeNext(into archive: ArchiveStreamWriter) throws -> Bool {
        guard index < entries.count else { return false }
        let entry = entries[index]
        if !begun {
            begun = true
            try archive.beginEntry(path: entry.name, modified: modified, size: Int64(entry.data.count))
        }
        let end = min(offset + (256 << 10), entry.data.count)
        if offset < end {
            try entry.data.withUnsafeBytes { try archive.write(UnsafeRawBufferPointer(rebasing: $0[offset..<end])) }
            offset = end
        }
        if offset == entry.data.count {
            try archive.finishEntry()
            entries[index].data = []
            index += 1
            offset = 0
            begun = false
        }
        return true
    }
}
