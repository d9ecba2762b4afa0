import Foundation
/// Content for an archive, produced a piece at a time on demand (pull), so that a database
/// stream, the zip compressor and the OpenPGP encryptor run in lock-step with flat memory.
public protocol ArchiveContentSource: AnyObject {
    /// Writes the next piece of content (a new entry, a batch of bytes) into `archive`.
    /// Returns false once everything has been written.
    func writeNext(into archive: ArchiveStreamWriter) throws -> Bool
}

/// What landed on disk.
public struct EncryptedArchiveResult: Sendable, Equatable {
    public let path: String
    public let bytes: Int
    public let sha256: String
}

/// Writes `source` as a zip, encrypted to `recipients`, to `path` (through `path.partial`).
/// The plaintext zip exists only in memory, one buffer at a time: no plaintext copy touches disk.
public enum EncryptedArchive {
    /// `literalName` is the file name recorded inside the OpenPGP message (default: `path`'s name
    /// without `.gpg`).
    public static func write(to path: String, recipients: [OpenPGPKey], using pgp: OpenPGPContext,
                             compressionLevel: Int = 6, literalName: String? = nil,
                             source: ArchiveContentSource) throws -> EncryptedArchiveResult {
        let output = try OutputFile(path: path)
        var pending: [UInt8] = []
        pending.reserveCapacity(1 << 16)
        var readIndex = 0
        var finished = false
        let archive = try ArchiveStreamWriter(name: path, compressionLevel: compressionLevel) { bytes in
            pending.append(contentsOf: bytes)
        }
        do {
            let literalName = literalName ?? String(path.split(separator: "/").last ?? "")
                .replacingOccurrences(of: ".gpg", with: "")
            try pgp.encrypt(to: recipients, literalFileName: literalName, read: { buffer in
                while readIndex == pending.count && !finished {
                    pending.removeAll(keepingCapacity: true)
                    readIndex = 0
                    if try !source.writeNext(into: archive) {
                        try archive.close()
                        finished = true
                    }
                }
                let count = min(buffer.count, pending.count - readIndex)
                guard count > 0 else { return 0 }
                pending.withUnsafeBytes { bytes in
                    buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + readIndex, byteCount: count)
                }
                readIndex += count
                return count
            }, write: { bytes in
                try output.write(bytes)
            })
            let digest = try output.commit()
            return EncryptedArchiveResult(path: path, bytes: output.bytesWritten, sha256: digest)
        } catch {
            output.abandon()
            throw error
        }
    }
}
