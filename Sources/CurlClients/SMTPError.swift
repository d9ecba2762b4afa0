/// A failed SMTP delivery: libcurl's code and message, the server's last reply (verbatim, with
/// its code), the server, and what an operator can do about it.
public struct SMTPError: Error, CustomStringConvertible, Sendable, Equatable {
    /// libcurl's `CURLcode` (0 when the failure is NightShift's own check).
    public let curlCode: Int
    /// curl's explanation (its error buffer, else `curl_easy_strerror`).
    public let message: String
    /// The code of the server's last reply (e.g. 550), 0 when the server said nothing.
    public let replyCode: Int
    /// The server's last reply, verbatim (multi-line replies joined with " / ").
    public let reply: String
    /// The server, as configured (`smtp://host:port`).
    public let server: String

    public init(curlCode: Int, message: String, replyCode: Int, reply: String, server: String) {
        self.curlCode = curlCode
        self.message = message
        self.replyCode = replyCode
        self.reply = reply
        self.server = server
    }

    /// The server refused this message for good (a 5xx reply to the envelope or the data):
    /// sending it again cannot help. Authentication replies (530, 534, 535, 538) are not counted:
    /// they concern every message and go away once the credentials are fixed.
    public var isPermanent: Bool {
        (500..<600).contains(replyCode) && ![530, 534, 535, 538].contains(replyCode)
    }

    /// What an operator can do, from curl's code and the reply.
    public var fix: String {
        switch (curlCode, replyCode) {
        case (_, 530), (_, 534), (_, 535), (_, 538), (67, _):
            return "check the user name and password in the credentials file named by mail.smtp.credentials"
        case (64, _):
            return "the server does not offer STARTTLS: use its TLS port (smtps://host:465), or, on a loopback server only, set mail.smtp.tls: off"
        case (60, _), (77, _), (58, _), (35, _), (83, _), (90, _), (91, _):
            return "the server's certificate could not be verified: install its CA, or name it in mail.smtp.ca_file"
        case (6, _):
            return "the server's host name does not resolve: check mail.smtp.url"
        case (7, _):
            return "nothing accepts connections there: check mail.smtp.url and that the mail server runs"
        case (28, _):
            return "the server did not answer in time: check it, or raise mail.smtp.timeout_seconds"
        case (_, 550...559):
            return "the server refused a sender or recipient address: check mail.from and the recipients"
        case (_, 400..<500):
            return "the server is busy or limiting: the outbox retries later by itself"
        default:
            return "check the mail server's log for this message; the outbox retries by itself"
        }
    }

    public var description: String {
        var text = "SMTP delivery through \(server) failed: \(message)"
        if curlCode != 0 { text += " (curl error \(curlCode))" }
        if !reply.isEmpty { text += "; the server's last reply: \(reply)" }
        return text + "; fix: \(fix)"
    }
}
