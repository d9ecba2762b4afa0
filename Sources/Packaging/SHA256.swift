import CLibCrypto
import Foundation

/// Streaming SHA-256 through OpenSSL's libcrypto (EVP; the CPU's SHA instructions where it has
/// them). Feed bytes with `update`, read the lowercase hex digest with `finalize`. The only owner
/// of its `EVP_MD_CTX`, freed in deinit. A failing libcrypto call is remembered and thrown by
/// `finalize` as `DigestError` with OpenSSL's error code.
public final class SHA256: @unchecked Sendable {
    private var context: OpaquePointer?
    private var failure: DigestError?

    public init() {
        context = EVP_MD_CTX_new()
        guard let context else {
            failure = DigestError(operation: "EVP_MD_CTX_new", code: ERR_get_error())
            return
        }
        if EVP_DigestInit_ex(context, EVP_sha256(), nil) != 1 {
            failure = DigestError(operation: "EVP_DigestInit_ex(sha256)", code: ERR_get_error())
        }
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, let context, bytes.count > 0 else { return }
        if EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) != 1 {
            failure = DigestError(operation: "EVP_DigestUpdate", code: ERR_get_error())
        }
    }

    public func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// The lowercase hex digest. The hasher is spent afterwards.
    public func finalize() throws -> String {
        if let failure { throw failure }
        guard let context else { throw DigestError(operation: "finalize", code: 0) }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &digest, &length) == 1, length == 32 else {
            let error = DigestError(operation: "EVP_DigestFinal_ex", code: ERR_get_error())
            failure = error
            throw error
        }
        failure = DigestError(operation: "update after finalize", code: 0)
        return digest.prefix(Int(length)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

/// A libcrypto digest call failed: which, and OpenSSL's packed error code (ERR_get_error).
public struct DigestError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let code: UInt

    public var description: String {
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return "SHA-256 (libcrypto) \(operation) failed: \(String(cString: buffer)) (OpenSSL error \(code))"
    }
}
