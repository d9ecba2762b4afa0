#if canImport(Glibc)
import Glibc
#endif

/// A file being written as `<path>.partial` and moved to `<path>` only by `commit()`, after an
/// fsync. Hashes what it writes. If it is never committed, the partial file is removed.
public final class OutputFile: @unchecked Sendable {
    public let path: String
    public var partialPath: String { path + ".partial" }
    private var fd: Int32 = -1
    private let hasher = SHA256()
    public private(set) var bytesWritten = 0
    private var committed = false

    public init(path: String, mode: mode_t = 0o600) throws {
        self.path = path
        fd = open(path + ".partial", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw OutputFileError(errno: errno, path: path + ".partial", operation: "creating") }
        // The mode asked for, exactly: open's passes through the umask.
        guard fchmod(fd, mode) == 0 else { throw OutputFileError(errno: errno, path: path + ".partial", operation: "setting the mode of") }
    }

    deinit { abandon() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw OutputFileError(errno: EBADF, path: partialPath, operation: "writing to closed file") }
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw OutputFileError(errno: errno, path: partialPath, operation: "writing")
            }
            offset += n
        }
        hasher.update(bytes)
        bytesWritten += bytes.count
    }

    public func write(_ string: String) throws {
        var copy = string
        try copy.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// fsyncs, closes and renames the partial file into place. Returns the SHA-256 of the content.
    @discardableResult
    public func commit() throws -> String {
        guard fd >= 0 else { throw OutputFileError(errno: EBADF, path: partialPath, operation: "committing closed file") }
        if fsync(fd) != 0 { throw OutputFileError(errno: errno, path: partialPath, operation: "fsync") }
        let closing = fd
        fd = -1
        if Glibc.close(closing) != 0 { throw OutputFileError(errno: errno, path: partialPath, operation: "closing") }
        if rename(partialPath, path) != 0 { throw OutputFileError(errno: errno, path: path, operation: "renaming \(partialPath) to") }
        committed = true
        return try hasher.finalize()
    }

    /// Closes and deletes the partial file if it was not committed. Idempotent.
    public func abandon() {
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
        if !committed { _ = unlink(partialPath) }
        committed = true
    }
}

extension OutputFile {
    /// Moves complete, fsynced files into place in order, replacing what is there, and fsyncs
    /// their directories. Before the first move, the last file's old version is removed: with
    /// the manifest last, a reader never finds a manifest that describes another archive.
    public static func publish(_ moves: [(staged: String, final: String)]) throws {
        guard let last = moves.last else { return }
        if unlink(last.final) != 0 && errno != ENOENT {
            throw OutputFileError(errno: errno, path: last.final, operation: "removing the old version of")
        }
        for move in moves {
            if rename(move.staged, move.final) != 0 {
                throw OutputFileError(errno: errno, path: move.final, operation: "publishing \(move.staged) as")
            }
        }
        for directory in Set(moves.map { directoryOf($0.final) }) { try syncDirectory(directory) }
    }

    /// fsyncs the directory holding `path`, so a rename into it survives a power loss.
    public static func syncDirectory(of path: String) throws {
        try syncDirectory(directoryOf(path))
    }

    private static func directoryOf(_ path: String) -> String {
        String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
    }

    private static func syncDirectory(_ directory: String) throws {
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw OutputFileError(errno: errno, path: directory, operation: "opening directory") }
        defer { _ = Glibc.close(fd) }
        if fsync(fd) != 0 { throw OutputFileError(errno: errno, path: directory, operation: "fsync of directory") }
    }
}
