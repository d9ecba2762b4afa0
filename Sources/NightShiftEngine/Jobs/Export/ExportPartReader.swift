import Foundation
import NightShiftCore
import PostgresClient

/// Reads an export query into parts of at most `rowsPerFile` rows, with `COPY ... TO STDOUT (CSV)`
/// inside the caller's transaction (one snapshot for the whole export).
///
/// With a key column the query is run once per part, after the last key of the part before
/// (`nightshift.after_key()`, `LIMIT nightshift.chunk_size()`): the server walks the key's index
/// and sends the first rows at once, instead of sorting the whole result before the first row.
/// Without one, a single COPY is cut into parts as it streams.
final class ExportPartReader {
    struct QueryProblem: Error, CustomStringConvertible {
        let description: String
    }

    private let db: PostgresConnection
    private let copySQL: String
    private let header: [UInt8]
    private let baseName: String
    private let rowsPerFile: Int
    private let parameters: [(String, String)]
    /// The key's column number in the query's rows (keyset reading), else nil.
    private let keyIndex: Int?
    private let keyColumn: String?
    private var stream: CopyOutStream?
    private var lastKey = Int.min
    private var done = false
    private(set) var parts = 0
    private(set) var rows = 0

    init(db: PostgresConnection, query: String, columns: [String], keyColumn: String?, baseName: String, rowsPerFile: Int,
         parameters: [(String, String)]) throws {
        self.db = db
        copySQL = "COPY (\n\(query)\n) TO STDOUT WITH (FORMAT csv)"
        header = Array((CSVText.record(columns) + "\n").utf8)
        self.baseName = baseName
        self.rowsPerFile = rowsPerFile
        self.parameters = parameters
        self.keyColumn = keyColumn
        if let keyColumn {
            guard let index = columns.firstIndex(of: keyColumn) else {
                throw QueryProblem(description: "the export query has no column \(keyColumn) (export.key); its columns are \(columns.joined(separator: ", "))")
            }
            keyIndex = index
        } else {
            keyIndex = nil
        }
    }

    deinit { stream?.close() }

    /// The next part, or nil when the rows are exhausted (the first part always exists: an empty
    /// day still gives one CSV with its header).
    func next() throws -> ExportPart? {
        guard !done else { return nil }
        var csv = header
        csv.reserveCapacity(max(header.count, 4 << 20))
        var count = 0
        var lastRowStart = 0
        if let keyIndex {
            try db.setParameters(parameters + [("after_key", String(lastKey == .min ? Int64.min : Int64(lastKey))),
                                               ("chunk_size", String(rowsPerFile))])
            let stream = try db.copyOutStream(copySQL)
            defer { stream.close() }
            while let row = try stream.next() {
                lastRowStart = csv.count
                csv.append(contentsOf: row)
                count += 1
            }
            guard count <= rowsPerFile else {
                throw QueryProblem(description: "the export query returned \(count) rows for a part of \(rowsPerFile): with export.key it must end with `ORDER BY \(keyColumn!) LIMIT nightshift.chunk_size()`")
            }
            if count > 0 {
                guard let key = ExportPartReader.integerField(keyIndex, of: csv[lastRowStart...]) else {
                    throw QueryProblem(description: "the key column \(keyColumn!) of the export query is not a whole number (export.key must be an ascending bigint)")
                }
                guard key > lastKey else {
                    throw QueryProblem(description: "the export query returned key \(key) after \(lastKey): it must return rows with \(keyColumn!) > nightshift.after_key(), ORDER BY \(keyColumn!)")
                }
                lastKey = key
            }
            if count < rowsPerFile { done = true }
            if count == 0 && parts > 0 { return nil }
        } else {
            if stream == nil { stream = try db.copyOutStream(copySQL) }
            while count < rowsPerFile, let row = try stream!.next() {
                csv.append(contentsOf: row)
                count += 1
            }
            if count < rowsPerFile {
                done = true
                stream?.close()
                stream = nil
            }
            if count == 0 && parts > 0 { return nil }
        }
        parts += 1
        rows += count
        return ExportPart(number: parts, fileName: "\(baseName)-\(String(format: "%04d", parts)).csv", csv: csv, rows: count)
    }

    /// The `index`th field of one CSV row, as a whole number (nil if it is not one).
    static func integerField(_ index: Int, of row: ArraySlice<UInt8>) -> Int? {
        var field = 0
        var position = row.startIndex
        var quoted = false
        var start = position
        while position < row.endIndex {
            let byte = row[position]
            if quoted {
                if byte == UInt8(ascii: "\"") { quoted = false }
            } else if byte == UInt8(ascii: "\"") {
                quoted = true
            } else if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "\n") {
                if field == index { break }
                field += 1
                start = position + 1
            }
            position += 1
        }
        guard field == index else { return nil }
        return Int(String(decoding: row[start..<position], as: UTF8.self))
    }
}
