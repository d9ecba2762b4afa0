#if canImport(Glibc)
import Glibc
#endif

/// Converts UTF-8 text to another character set with glibc's iconv (Big5 for the office's legacy
/// tools). The only owner of its `iconv_t`. A character the target cannot represent is an error
/// that names it: nothing is silently replaced.
public final class TextTranscoder: @unchecked Sendable {
    private var handle: iconv_t?
    public let target: String
    private var output = [UInt8](repeating: 0, count: 1 << 16)

    /// - Parameter target: an iconv charset name (`BIG5`, `BIG5-HKSCS`, …).
    public init(to target: String) throws {
        self.target = target
        let opened = iconv_open(target, "UTF-8")
        guard let opened, opened != iconv_t(bitPattern: -1) else {
            throw TranscodingError(errno: errno, target: target, message: "iconv cannot convert UTF-8 to \(target)", character: nil)
        }
        handle = opened
    }

    deinit { close() }

    /// Releases the converter; safe to call more than once.
    public func close() {
        if let handle { iconv_close(handle) }
        handle = nil
    }

    /// Converts `bytes` (complete UTF-8) and appends the result to `into`.
    public func convert(_ bytes: UnsafeRawBufferPointer, into result: inout [UInt8]) throws {
        guard let handle else { throw TranscodingError(errno: EBADF, target: target, message: "the converter is closed", character: nil) }
        guard bytes.count > 0 else { return }
        var inPointer = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: CChar.self))
        var inLeft = bytes.count
        while inLeft > 0 {
            let produced: Int = try output.withUnsafeMutableBytes { buffer in
                var outPointer: UnsafeMutablePointer<CChar>? = buffer.baseAddress!.assumingMemoryBound(to: CChar.self)
                var outLeft = buffer.count
                var inOptional: UnsafeMutablePointer<CChar>? = inPointer
                let status = iconv(handle, &inOptional, &inLeft, &outPointer, &outLeft)
                let code = errno
                inPointer = inOptional!
                if status == -1 && code != E2BIG {
                    // Reset the state for the next call, then name the character.
                    _ = iconv(handle, nil, nil, nil, nil)
                    let rest = UnsafeRawBufferPointer(start: UnsafeRawPointer(inPointer), count: inLeft)
                    let scalar = String(decoding: rest.prefix(4), as: UTF8.self).unicodeScalars.first
                    throw TranscodingError(errno: code, target: target,
                                           message: code == EILSEQ ? "a character has no \(target) form" : "the text ends inside a character",
                                           character: scalar)
                }
                return buffer.count - outLeft
            }
            result.append(contentsOf: output[0..<produced])
        }
    }

    public func convert(_ text: String, into result: inout [UInt8]) throws {
        var copy = text
        try copy.withUTF8 { try convert(UnsafeRawBufferPointer($0), into: &result) }
    }
}

/// A conversion failure: errno, the target charset and the character that has no form there.
public struct TranscodingError: Error, CustomStringConvertible, Sendable {
    public let errno: Int32
    public let target: String
    public let message: String
    public let character: Unicode.Scalar?

    public var description: String {
        let named = character.map { " (\"\($0)\", U+\(String($0.value, radix: 16, uppercase: true)))" } ?? ""
        return "\(message)\(named) (errno \(errno))"
    }
}
