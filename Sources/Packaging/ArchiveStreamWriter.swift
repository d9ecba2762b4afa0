import CArchive

/// The container and compression of an export archive.
public enum ArchiveFormat: Sendable, Equatable {
    /// zip with deflate at level 0–9 (what office tools open).
    case zip(level: Int)
    /// POSIX (pax) tar compressed with zstd at level 1–19 (faster and smaller; `tar --zstd`).
    case tarZstd(level: Int)
    /// One file, gzip-compressed (level 1–9), no container: `report.csv.gz`.
    case gzip(level: Int)
    /// One file, zstd-compressed (level 1–19), no container: `report.csv.zst`.
    case zstd(level: Int)

    /// The file name extension: `zip` or `tar.zst`.
    public var fileExtension: String {
        switch self {
        case .zip: "zip"
        case .tarZstd: "tar.zst"
        case .gzip: "gz"
        case .zstd: "zst"
        }
    }

    /// A tar entry's header carries its size, so a tar entry cannot be streamed.
    public var needsEntrySize: Bool {
        if case .tarZstd = self { return true }
        return false
    }
}

/// Writes a zip or tar.zst archive entry by entry to a byte sink. A zip entry's size need not be
/// known in advance (libarchive then writes Zip64 entries with data descriptors, which `unzip`
/// and `bsdtar` read); a tar entry's must.
///
/// The only owner of its `struct archive *`. Not thread-safe: use it from one thread.
public final class ArchiveStreamWriter: @unchecked Sendable {
    public typealias Sink = (UnsafeRawBufferPointer) throws -> Void

    private var archive: OpaquePointer?
    private let sinkBox: SinkBox
    private let name: String
    private let format: ArchiveFormat
    private var entryOpen = false
    private var closed = false

    final class SinkBox {
        let sink: Sink
        var error: Error?
        init(_ sink: @escaping Sink) { self.sink = sink }
    }

    /// - Parameters:
    ///   - name: what the archive is, for error messages (usually the output path).
    ///   - format: zip (deflate) or tar.zst, with its compression level.
    ///   - sink: receives the archive's bytes in order.
    public init(name: String, format: ArchiveFormat = .zip(level: 6), sink: @escaping Sink) throws {
        self.name = name
        self.format = format
        self.sinkBox = SinkBox(sink)
        guard let archive = archive_write_new() else {
            throw ArchiveError(code: ENOMEM, message: "archive_write_new returned NULL", context: "creating \(name)")
        }
        self.archive = archive
        switch format {
        case let .zip(level):
            try check(archive_write_set_format_zip(archive), "selecting the zip format")
            try check(archive_write_set_options(archive, "zip:compression=deflate,zip:compression-level=\(level)"),
                      "setting zip options")
        case let .tarZstd(level):
            try check(archive_write_set_format_pax_restricted(archive), "selecting the tar (pax) format")
            try check(archive_write_add_filter_zstd(archive), "adding the zstd filter")
            try check(archive_write_set_filter_option(archive, "zstd", "compression-level", "\(level)"), "setting the zstd level")
        case let .gzip(level):
            try check(archive_write_set_format_raw(archive), "selecting a single compressed stream")
            try check(archive_write_add_filter_gzip(archive), "adding the gzip filter")
            try check(archive_write_set_filter_option(archive, "gzip", "compression-level", "\(level)"), "setting the gzip level")
            // No name or time in the gzip header: the same content gives the same bytes.
            try check(archive_write_set_filter_option(archive, "gzip", "timestamp", nil), "leaving the time out of the gzip header")
        case let .zstd(level):
            try check(archive_write_set_format_raw(archive), "selecting a single compressed stream")
            try check(archive_write_add_filter_zstd(archive), "adding the zstd filter")
            try check(archive_write_set_filter_option(archive, "zstd", "compression-level", "\(level)"), "setting the zstd level")
        }
        try check(archive_write_set_bytes_in_last_block(archive, 1), "disabling block padding")
        let context = Unmanaged.passUnretained(sinkBox).toOpaque()
        let status = archive_write_open(archive, context, nil, { _, clientData, buffer, length in
            let box = Unmanaged<SinkBox>.fromOpaque(clientData!).takeUnretainedValue()
            do {
                try box.sink(UnsafeRawBufferPointer(start: buffer, count: length))
                return la_ssize_t(length)
            } catch {
                box.error = error
                return -1
            }
        }, nil)
        try check(status, "opening the archive stream")
    }

    deinit {
        if let archive { archive_write_free(archive) }
    }

    /// Starts a regular file entry. `size` may be nil: the entry is then streamed.
    public func beginEntry(path: String, modified: Int, size: Int64? = nil) throws {
        let archive = try live("starting entry \(path)")
        if entryOpen { try finishEntry() }
        if size == nil && format.needsEntrySize {
            // A tar header carries the size: an entry without one would silently hold nothing.
            throw ArchiveError(code: EINVAL, message: "a \(format.fileExtension) entry needs its size before its data",
                               context: "starting entry \(path) in \(name)")
        }
        guard let entry = archive_entry_new() else {
            throw ArchiveError(code: ENOMEM, message: "archive_entry_new returned NULL", context: "starting entry \(path)")
        }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname_utf8(entry, path)
        archive_entry_set_filetype(entry, nightshift_ae_ifreg())
        archive_entry_set_perm(entry, 0o644)
        archive_entry_set_mtime(entry, time_t(modified), 0)
        if let size { archive_entry_set_size(entry, la_int64_t(size)) }
        try check(archive_write_header(archive, entry), "writing the header of \(path)")
        entryOpen = true
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        let archive = try live("writing data")
        let written = archive_write_data(archive, bytes.baseAddress, bytes.count)
        if written < 0 { try check(Int32(written), "writing entry data") }
    }

    public func finishEntry() throws {
        guard entryOpen else { return }
        entryOpen = false
        try check(archive_write_finish_entry(try live("finishing entry")), "finishing an entry")
    }

    /// Writes the central directory and flushes everything to the sink. Idempotent.
    public func close() throws {
        guard !closed, let archive else { return }
        if entryOpen { try finishEntry() }
        closed = true
        try check(archive_write_close(archive), "closing the archive")
    }

    private func live(_ what: String) throws -> OpaquePointer {
        guard let archive, !closed else {
            throw ArchiveError(code: EINVAL, message: "the archive is already closed", context: "\(what) in \(name)")
        }
        return archive
    }

    /// ARCHIVE_OK and ARCHIVE_WARN pass; anything worse becomes an `ArchiveError` with errno and
    /// message. When the failure came from the sink, the sink's own error is rethrown instead.
    private func check(_ status: Int32, _ what: String) throws {
        guard status < ARCHIVE_WARN else { return }
        if let sinkError = sinkBox.error { throw sinkError }
        let code = archive.map { archive_errno($0) } ?? EINVAL
        let message = archive.flatMap { archive_error_string($0) }.map { String(cString: $0) } ?? "status \(status)"
        throw ArchiveError(code: code, message: message, context: "\(what) in \(name)")
    }
}

#if canImport(Glibc)
import Glibc
#endif
