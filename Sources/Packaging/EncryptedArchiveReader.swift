import Foundation

/// Reads back what `EncryptedArchive.write` wrote: decrypts the file (when it is encrypted) and
/// reads the archive inside entry by entry, with flat memory and no plaintext on disk.
///
/// gpgme decrypts on a thread of its own into a pipe while libarchive reads the pipe on the
/// caller's thread. The whole file is always read (also when the caller stops early), so the
/// OpenPGP integrity check runs to the end: a changed byte anywhere throws, after the entries
/// were visited — treat what was read as unverified until `read` returns.
public enum EncryptedArchiveReader {
    /// The file as read: its size and SHA-256 (the ciphertext, when encrypted).
    public struct FileDigest: Sendable, Equatable {
        public let bytes: Int
        public let sha256: String
    }

    /// - Parameters:
    ///   - pgp: the context whose keyring holds a secret key the file was encrypted to; nil when
    ///     the file is a plain archive. Used only on the decrypting thread while `read` runs.
    ///   - entry: called with each entry's path and the reader positioned on its data.
    public static func read(from path: String, pgp: OpenPGPContext?,
                            entry: (String, ArchiveStreamReader) throws -> Void) throws -> FileDigest {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw OutputFileError(errno: errno, path: path, operation: "opening") }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            let code = errno
            _ = Glibc.close(input)
            throw OutputFileError(errno: code, path: path, operation: "creating a pipe to read")
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let feeder = Feeder(input: input, output: ends[1], path: path, pgp: pgp)
        let thread = Thread { feeder.run() }
        thread.name = "archive-decrypt"
        thread.start()

        var readerError: Error?
        do {
            let reader = try ArchiveStreamReader(descriptor: ends[0], name: path)
            defer { reader.close() }
            while let name = try reader.nextEntry() { try entry(name, reader) }
        } catch {
            readerError = error
        }
        // Drain what is left so the decrypting thread finishes (and checks the whole message).
        var sink = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = sink.withUnsafeMutableBytes { Glibc.read(ends[0], $0.baseAddress, $0.count) }
            if n > 0 || (n < 0 && errno == EINTR) { continue }
            break
        }
        _ = Glibc.close(ends[0])
        feeder.done.wait()
        // A decryption failure (wrong key, changed bytes) explains whatever the reader saw.
        if let failure = feeder.failure { throw failure }
        if let readerError { throw readerError }
        return FileDigest(bytes: feeder.bytes, sha256: try feeder.hasher.finalize())
    }

    /// Reads the file (hashing it), decrypts it and writes the plaintext into the pipe.
    private final class Feeder: @unchecked Sendable {
        let input: Int32
        let output: Int32
        let path: String
        let pgp: OpenPGPContext?
        let hasher = SHA256()
        let done = DispatchSemaphore(value: 0)
        var bytes = 0
        var failure: Error?

        init(input: Int32, output: Int32, path: String, pgp: OpenPGPContext?) {
            self.input = input
            self.output = output
            self.path = path
            self.pgp = pgp
        }

        func run() {
            defer {
                _ = Glibc.close(output)
                _ = Glibc.close(input)
                done.signal()
            }
            do {
                if let pgp {
                    try pgp.decrypt(read: { try self.readFile(into: $0) }, write: { try self.writePipe($0) })
                } else {
                    var buffer = [UInt8](repeating: 0, count: 1 << 16)
                    while true {
                        let n = try buffer.withUnsafeMutableBytes { try readFile(into: $0) }
                        if n == 0 { break }
                        try buffer.withUnsafeBytes { try writePipe(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                    }
                }
            } catch {
                failure = error
            }
        }

        func readFile(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            while true {
                let n = Glibc.read(input, buffer.baseAddress, buffer.count)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw OutputFileError(errno: errno, path: path, operation: "reading") }
                hasher.update(UnsafeRawBufferPointer(start: buffer.baseAddress, count: n))
                bytes += n
                return n
            }
        }

        func writePipe(_ data: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < data.count {
                let n = Glibc.write(output, data.baseAddress! + offset, data.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw OutputFileError(errno: errno, path: path, operation: "passing the decrypted archive of")
                }
                offset += n
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
