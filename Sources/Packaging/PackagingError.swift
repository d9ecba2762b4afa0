import Foundation
/// A libarchive failure: the archive errno, libarchive's message and what was being written.
public struct ArchiveError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public let context: String

    public var description: String {
        "libarchive failed (errno \(code)): \(message) — while \(context)"
    }
}

/// A gpgme failure: the gpg error code and source, gpgme's message and what was being done.
public struct OpenPGPError: Error, CustomStringConvertible, Sendable {
    public let code: UInt32
    public let source: UInt32
    public let message: String
    public let context: String
    public let fix: String?

    public var description: String {
        var text = "OpenPGP (gpgme) failed (gpg error \(code), source \(source)): \(message) — while \(context)"
        if let fix { text += ". Fix: \(fix)" }
        return text
    }
}

/// Plaintext handed to an `EncryptingStream` after it was closed or abandoned, or an encryption
/// abandoned part-way (its ciphertext is incomplete and is to be discarded).
public struct EncryptionStopped: Error, CustomStringConvertible, Sendable {
    public let literalName: String
    public var description: String {
        "the encryption of \(literalName) was stopped before its end (the file is incomplete and is discarded)"
    }
}

/// A file-system failure while writing an output.
public struct OutputFileError: Error, CustomStringConvertible, Sendable {
    public let errno: Int32
    public let path: String
    public let operation: String

    public var description: String {
        "\(operation) \(path) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
