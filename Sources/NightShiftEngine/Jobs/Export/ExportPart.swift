import Foundation
import Packaging

/// One part of an export: a CSV file (header and at most `rows_per_file` rows) held in memory
/// while it is compressed and encrypted into an archive of its own. Parts are what let an export
/// use every core: they are independent, so each thread packs one.
struct ExportPart: Sendable {
    /// 1, 2, …: the part's place in key order.
    let number: Int
    /// The CSV file's name inside the archive (`<base>-0001.csv`).
    let fileName: String
    let csv: [UInt8]
    let rows: Int
}

/// Serves one part's CSV to libarchive as a single entry of known size (a tar header needs it),
/// hashing the plaintext on the packing thread.
final class ExportPartSource: ArchiveContentSource {
    private let part: ExportPart
    private let modified: Int
    private var offset = 0
    private var started = false
    let hasher = SHA256()

    static let step = 256 * 1024

    init(part: ExportPart, modified: Int) {
        self.part = part
        self.modified = modified
    }

    func writeNext(into archive: ArchiveStreamWriter) throws -> Bool {
        if !started {
            started = true
            try archive.beginEntry(path: part.fileName, modified: modified, size: Int64(part.csv.count))
        }
        guard offset < part.csv.count else {
            try archive.finishEntry()
            return false
        }
        let end = min(offset + ExportPartSource.step, part.csv.count)
        try part.csv.withUnsafeBytes { bytes in
            let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
            hasher.update(slice)
            try archive.write(slice)
        }
        offset = end
        return true
    }
}
