import CCurl
import Foundation

/// One libcurl easy handle with its error buffer: the only owner of libcurl pointers in NightShift
/// (SMTPClient and SFTPClient each hold one). Not thread-safe: one per thread. The handle keeps
/// its connection between transfers; `close()` frees it (idempotent), and so does `deinit`.
final class CurlEasy {
    private(set) var handle: UnsafeMutableRawPointer?
    private let errorBuffer: UnsafeMutablePointer<CChar>

    /// curl_global_init, once per process, before any handle (not thread-safe in libcurl itself).
    private static let globalInit: CURLcode = nightshift_curl_global_init()

    /// Throws (curl's code, its message) when libcurl cannot be initialised.
    init() throws(CurlFailure) {
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        let initialised = CurlEasy.globalInit
        guard initialised == CURLE_OK, let handle = curl_easy_init() else {
            errorBuffer.deallocate()
            throw CurlFailure(code: Int(initialised.rawValue), message: "libcurl could not be initialised")
        }
        self.handle = handle
        reset()
    }

    /// Forgets every option of the last transfer (the open connection is kept).
    func reset() {
        guard let handle else { return }
        curl_easy_reset(handle)
        _ = nightshift_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        _ = nightshift_curl_set_long(handle, CURLOPT_NOSIGNAL, 1)
    }

    deinit {
        close()
        errorBuffer.deallocate()
    }

    func close() {
        if let handle {
            curl_easy_cleanup(handle)
            self.handle = nil
        }
    }

    /// The handle, or a failure saying the client was closed.
    func open() throws(CurlFailure) -> UnsafeMutableRawPointer {
        guard let handle else { throw CurlFailure(code: 0, message: "the client is closed") }
        return handle
    }

    /// Checks a setopt's result.
    func set(_ code: CURLcode, _ what: String) throws(CurlFailure) {
        guard code == CURLE_OK else {
            throw CurlFailure(code: Int(code.rawValue), message: "cannot set \(what): \(String(cString: curl_easy_strerror(code)))")
        }
    }

    /// Runs the transfer set up on the handle; its failure with curl's own words.
    func perform() -> CurlFailure? {
        guard let handle else { return CurlFailure(code: 0, message: "the client is closed") }
        errorBuffer[0] = 0
        let result = curl_easy_perform(handle)
        guard result != CURLE_OK else { return nil }
        let buffer = String(cString: errorBuffer)
        return CurlFailure(code: Int(result.rawValue), message: buffer.isEmpty ? String(cString: curl_easy_strerror(result)) : buffer)
    }
}

/// libcurl's code (`CURLcode`, 0 for a check of NightShift's own) and message.
struct CurlFailure: Error {
    let code: Int
    let message: String
}
