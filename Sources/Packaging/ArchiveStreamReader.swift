import CArchive

/// Reads a zip, tar or tar.zst archive entry by entry from a file descriptor (a file or a pipe),
/// streaming each entry's data: memory stays flat whatever the entry's size.
///
/// The only owner of its `struct archive *`. Not thread-safe: use it from one thread.
public final class ArchiveStreamReader: @unchecked Sendable {
    private var archive: OpaquePointer?
    private let name: String

    /// - Parameters:
    ///   - descriptor: where the archive's bytes come from; not closed by the reader.
    ///   - name: what the archive is, for error messages (usually its path).
    public init(descriptor: Int32, name: String) throws {
        self.name = name
        guard let archive = archive_read_new() else {
            throw ArchiveError(code: ENOMEM, message: "archive_read_new returned NULL", context: "opening \(name)")
        }
        self.archive = archive
        try check(archive_read_support_filter_all(archive), "enabling the decompression filters")
        try check(archive_read_support_format_tar(archive), "enabling the tar format")
        try check(archive_read_support_format_zip_streamable(archive), "enabling the zip format")
        try check(archive_read_open_fd(archive, descriptor, 1 << 16), "opening the archive")
    }

    deinit { close() }

    /// Frees the reader; safe to call more than once.
    public func close() {
        if let archive { archive_read_free(archive) }
        archive = nil
    }

    /// Moves to the next entry and returns its path, or nil after the last one.
    public func nextEntry() throws -> String? {
        let archive = try live("reading the next entry")
        var entry: OpaquePointer?
        let status = archive_read_next_header(archive, &entry)
        if status == ARCHIVE_EOF { return nil }
        try check(status, "reading an entry header")
        guard let entry, let path = archive_entry_pathname_utf8(entry) ?? archive_entry_pathname(entry) else {
            throw ArchiveError(code: EINVAL, message: "an entry has no path", context: "reading \(name)")
        }
        return String(cString: path)
    }

    /// Reads the current entry's next bytes into `buffer`; 0 at the end of the entry.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let archive = try live("reading entry data")
        let count = archive_read_data(archive, buffer.baseAddress, buffer.count)
        if count < 0 { try check(Int32(count), "reading entry data") }
        return max(0, count)
    }

    private func live(_ what: String) throws -> OpaquePointer {
        guard let archive else {
            throw ArchiveError(code: EINVAL, message: "the archive reader is closed", context: "\(what) in \(name)")
        }
        return archive
    }

    /// ARCHIVE_OK and ARCHIVE_WARN pass; anything worse becomes an `ArchiveError`.
    private func check(_ status: Int32, _ what: String) throws {
        guard status < ARCHIVE_WARN else { return }
        let code = archive.map { archive_errno($0) } ?? EINVAL
        let message = archive.flatMap { archive_error_string($0) }.map { String(cString: $0) } ?? "status \(status)"
        throw ArchiveError(code: code, message: message, context: "\(what) in \(name)")
    }
}

#if canImport(Glibc)
import Glibc
#endif
