import CCurl
import Foundation

/// Where and how to deliver mail.
public struct SMTPServer: Sendable, Equatable {
    /// `smtp://host:port` (STARTTLS, or plain on loopback) or `smtps://host:port` (TLS from the start).
    public var url: String
    /// Refuse to send unless the connection is encrypted (STARTTLS is then required on smtp://).
    public var requireTLS: Bool
    /// A PEM file of CA certificates to verify the server with (nil: the system's).
    public var caFile: String?
    public var username: String?
    public var password: String?
    /// Seconds to establish the connection (TCP and TLS).
    public var connectTimeout: Double
    /// Seconds for a whole delivery; a slower server is given up on, and the message retried later.
    public var timeout: Double

    public init(url: String, requireTLS: Bool = true, caFile: String? = nil, username: String? = nil, password: String? = nil,
                connectTimeout: Double = 10, timeout: Double = 60) {
        self.url = url
        self.requireTLS = requireTLS
        self.caFile = caFile
        self.username = username
        self.password = password
        self.connectTimeout = connectTimeout
        self.timeout = timeout
    }
}

/// The server's answer to an accepted message (e.g. `250 2.0.0 Ok: queued as 4F2A1`), and the
/// recipients it refused (the others got the message).
public struct SMTPReceipt: Sendable, Equatable {
    public let replyCode: Int
    public let reply: String
    public var refused: [Refusal] = []

    public struct Refusal: Sendable, Equatable {
        public let recipient: String
        public let replyCode: Int
        public let reply: String
    }
}

/// Delivers messages through one SMTP server with libcurl. Owns one curl easy handle (which keeps
/// the connection open between messages). One client per thread; not thread-safe.
public final class SMTPClient: @unchecked Sendable {
    public let server: SMTPServer
    private let easy: CurlEasy

    public init(server: SMTPServer) throws {
        self.server = server
        do { easy = try CurlEasy() } catch {
            throw SMTPError(curlCode: error.code, message: error.message, replyCode: 0, reply: "", server: server.url)
        }
    }

    /// Ends the connection (QUIT) and frees the handle. Idempotent.
    public func close() { easy.close() }

    /// Sends `message` (the whole RFC 5322 message, CRLF line endings) from `sender` to `recipients`
    /// (bare addresses: the envelope). Returns the server's reply to the message.
    public func send(from sender: String, to recipients: [String], message: Data) throws -> SMTPReceipt {
        guard let handle = easy.handle else {
            throw SMTPError(curlCode: 0, message: "the SMTP client is closed", replyCode: 0, reply: "", server: server.url)
        }
        guard !recipients.isEmpty else {
            throw SMTPError(curlCode: 0, message: "the message has no recipient", replyCode: 0, reply: "", server: server.url)
        }
        let transfer = Transfer(message: message)
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        for recipient in recipients {
            guard let appended = curl_slist_append(list, recipient) else {
                throw SMTPError(curlCode: Int(CURLE_OUT_OF_MEMORY.rawValue), message: "out of memory", replyCode: 0, reply: "", server: server.url)
            }
            list = appended
        }
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        try withExtendedLifetime(transfer) {
            do {
                try easy.set(nightshift_curl_set_string(handle, CURLOPT_URL, server.url), "the server URL")
                try easy.set(nightshift_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps"), "the protocols")
                try easy.set(nightshift_curl_set_long(handle, CURLOPT_USE_SSL, Int(server.requireTLS ? CURLUSESSL_ALL.rawValue : CURLUSESSL_NONE.rawValue)),
                             "TLS")
                try easy.set(nightshift_curl_set_long(handle, CURLOPT_SSL_VERIFYPEER, 1), "certificate verification")
                try easy.set(nightshift_curl_set_long(handle, CURLOPT_SSL_VERIFYHOST, 2), "host name verification")
                if let caFile = server.caFile { try easy.set(nightshift_curl_set_string(handle, CURLOPT_CAINFO, caFile), "the CA file") }
                if let username = server.username {
                    try easy.set(nightshift_curl_set_string(handle, CURLOPT_USERNAME, username), "the user name")
                    try easy.set(nightshift_curl_set_string(handle, CURLOPT_PASSWORD, server.password ?? ""), "the password")
                }
                try easy.set(nightshift_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(server.connectTimeout * 1000)), "the connect timeout")
                try easy.set(nightshift_curl_set_long(handle, CURLOPT_TIMEOUT_MS, Int(server.timeout * 1000)), "the timeout")
                // Also bounds the wait for the reply to QUIT when a failed connection is closed.
                try easy.set(nightshift_curl_set_long(handle, CURLOPT_SERVER_RESPONSE_TIMEOUT, Int(server.timeout.rounded(.up))), "the reply timeout")
                try easy.set(nightshift_curl_set_string(handle, CURLOPT_MAIL_FROM, sender), "the sender")
                try easy.set(nightshift_curl_set_list(handle, CURLOPT_MAIL_RCPT, list), "the recipients")
                try easy.set(nightshift_curl_allow_refused_recipients(handle), "delivery to the accepted recipients")
                try easy.set(nightshift_curl_set_long(handle, CURLOPT_UPLOAD, 1), "upload")
                try easy.set(nightshift_curl_set_io_callback(handle, CURLOPT_READFUNCTION, readMessage), "the reader")
                try easy.set(nightshift_curl_set_pointer(handle, CURLOPT_READDATA, context), "the reader's data")
                try easy.set(nightshift_curl_set_io_callback(handle, CURLOPT_WRITEFUNCTION, discard), "the writer")
                // The server's replies reach us only through the debug callback, which needs VERBOSE.
                try easy.set(nightshift_curl_set_debug_callback(handle, recordReply), "the reply recorder")
                try easy.set(nightshift_curl_set_pointer(handle, CURLOPT_DEBUGDATA, context), "the reply recorder's data")
                try easy.set(nightshift_curl_set_long(handle, CURLOPT_VERBOSE, 1), "verbose")
            } catch let failure as CurlFailure {
                throw SMTPError(curlCode: failure.code, message: failure.message, replyCode: 0, reply: "", server: server.url)
            }
            let failure = easy.perform()
            // Nothing of ours may be left pointed at once this call returns.
            _ = nightshift_curl_set_list(handle, CURLOPT_MAIL_RCPT, nil)
            _ = nightshift_curl_set_pointer(handle, CURLOPT_READDATA, nil)
            _ = nightshift_curl_set_pointer(handle, CURLOPT_DEBUGDATA, nil)
            if let failure {
                throw SMTPError(curlCode: failure.code, message: failure.message,
                                replyCode: transfer.refusalCode ?? transfer.lastCode, reply: transfer.refusal ?? transfer.lastReply,
                                server: server.url)
            }
        }
        return SMTPReceipt(replyCode: transfer.lastCode, reply: transfer.lastReply, refused: transfer.refusedRecipients)
    }
}

/// One delivery's state, shared with curl's callbacks: the message being read out, and the
/// server's replies as they come in.
private final class Transfer {
    let message: Data
    var offset = 0
    var partial = ""
    var lines: [String] = []
    var lastReply = ""
    var lastCode = 0
    /// The server's last 4xx or 5xx reply: what a failure is about (the reply to QUIT may follow it).
    var refusal: String?
    var refusalCode: Int?
    /// The last command sent (`RCPT TO:<…>` names the recipient a reply is about).
    var command = ""
    var refusedRecipients: [SMTPReceipt.Refusal] = []

    init(message: Data) { self.message = message }

    /// Server text arrives in pieces; a reply is complete at a line `NNN text` (not `NNN-text`).
    func received(_ text: String) {
        partial += text
        while let end = partial.range(of: "\r\n") ?? partial.range(of: "\n") {
            let line = String(partial[..<end.lowerBound])
            partial.removeSubrange(..<end.upperBound)
            lines.append(line)
            let bytes = Array(line.utf8)
            if bytes.count >= 3, let code = Int(String(decoding: bytes[0..<3], as: UTF8.self)), bytes.count == 3 || bytes[3] == UInt8(ascii: " ") {
                lastCode = code
                lastReply = lines.joined(separator: " / ")
                lines = []
                if code >= 400 {
                    (refusal, refusalCode) = (lastReply, code)
                    if command.uppercased().hasPrefix("RCPT TO:") {
                        let recipient = command.dropFirst("RCPT TO:".count).trimmingCharacters(in: CharacterSet(charactersIn: "<> \r\n"))
                        refusedRecipients.append(.init(recipient: recipient, replyCode: code, reply: lastReply))
                    }
                }
            }
        }
    }
}

private let readMessage: nightshift_curl_io_callback = { buffer, size, count, context in
    guard let buffer, let context else { return nightshift_curl_read_abort() }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let room = size * count
    let left = transfer.message.count - transfer.offset
    let n = min(room, left)
    guard n > 0 else { return 0 }
    transfer.message.withUnsafeBytes { bytes in
        UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + transfer.offset, byteCount: n)
    }
    transfer.offset += n
    return n
}

private let discard: nightshift_curl_io_callback = { _, size, count, _ in size * count }

private let recordReply: nightshift_curl_debug_callback = { _, type, data, size, context in
    guard type == CURLINFO_HEADER_IN || type == CURLINFO_HEADER_OUT, let data, let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
    // Commands are kept only to know which recipient a reply refuses (AUTH is never kept).
    if type == CURLINFO_HEADER_OUT { transfer.command = text.uppercased().hasPrefix("RCPT TO:") ? text : "" } else { transfer.received(text) }
    return 0
}
