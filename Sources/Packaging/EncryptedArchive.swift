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
    /// The file's size and SHA-256 (the ciphertext, when encrypted).
    public let bytes: Int
    public let sha256: String
    /// The archive's own size and SHA-256 before encryption (equal to the above when not encrypted).
    public let plaintextBytes: Int
    public let plaintextSHA256: String
}

/// Who an archive is encrypted to, and who signs it, through which gpgme context.
public struct ArchiveProtection {
    public let pgp: OpenPGPContext
    public let recipients: [OpenPGPKey]
    public let signer: OpenPGPKey?

    public init(pgp: OpenPGPContext, recipients: [OpenPGPKey], signer: OpenPGPKey? = nil) {
        self.pgp = pgp
        self.recipients = recipients
        self.signer = signer
    }
}

/// Writes `source` as a zip or tar.zst, encrypted to its recipients (and signed) when protected,
/// to `path` (through `path.partial`). The plaintext archive exists only in memory, one buffer at
/// a time: no plaintext copy touches disk.
public enum EncryptedArchive {
    /// `literalName` is the file name recorded inside the OpenPGP message (default: `path`'s name
    /// without `.gpg`).
    public static func write(to path: String, format: ArchiveFormat = .zip(level: 6), protection: ArchiveProtection?,
                             literalName: String? = nil, source: ArchiveContentSource) throws -> EncryptedArchiveResult {
        let output = try OutputFile(path: path)
        let plainHash = SHA256()
        var plainBytes = 0
        var pending: [UInt8] = []
        pending.reserveCapacity(1 << 16)
        var readIndex = 0
        var finished = false
        let archive = try ArchiveStreamWriter(name: path, format: format) { bytes in
            plainHash.update(bytes)
            plainBytes += bytes.count
            pending.append(contentsOf: bytes)
        }
        do {
            if let protection {
                let literalName = literalName ?? String(path.split(separator: "/").last ?? "")
                    .replacingOccurrences(of: ".gpg", with: "")
                try protection.pgp.encrypt(to: protection.recipients, signedBy: protection.signer, literalFileName: literalName, read: { buffer in
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
            } else {
                while !finished {
                    if try !source.writeNext(into: archive) {
                        try archive.close()
                        finished = true
                    }
                    try pending.withUnsafeBytes { try output.write($0) }
                    pending.removeAll(keepingCapacity: true)
                }
            }
            let digest = try output.commit()
            return EncryptedArchiveResult(path: path, bytes: output.bytesWritten, sha256: digest,
                                          plaintextBytes: plainBytes, plaintextSHA256: try plainHash.finalize())
        } catch {
            output.abandon()
            throw error
        }
    }

    /// Encrypted to `recipients` with deflate at `compressionLevel` (a zip).
    public static func write(to path: String, recipients: [OpenPGPKey], using pgp: OpenPGPContext,
                             compressionLevel: Int = 6, literalName: String? = nil,
                             source: ArchiveContentSource) throws -> EncryptedArchiveResult {
        try write(to: path, format: .zip(level: compressionLevel), protection: ArchiveProtection(pgp: pgp, recipients: recipients),
                  literalName: literalName, source: source)
    }
}
