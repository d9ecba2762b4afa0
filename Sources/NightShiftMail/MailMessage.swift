import Foundation

/// An RFC 5322 message with a multipart/alternative body (plain text + HTML), UTF-8 throughout.
public struct MailMessage: Sendable {
    public var from: String
    public var to: [String]
    public var subject: String
    public var date: Date
    public var messageID: String
    public var text: String
    public var html: String
    /// Files attached after the text and HTML (the message becomes multipart/mixed).
    public var attachments: [Attachment] = []

    public struct Attachment: Sendable, Equatable {
        /// ASCII letters, digits, `.`, `-` and `_` (it goes into a header as it is).
        public let filename: String
        public let contentType: String
        public let data: Data

        public init(filename: String, contentType: String, data: Data) {
            self.filename = filename.filter { $0.isASCII && ($0.isLetter || $0.isNumber || ".-_".contains($0)) }
            self.contentType = contentType
            self.data = data
        }
    }

    public init(from: String, to: [String], subject: String, date: Date, messageID: String? = nil, text: String, html: String) {
        self.from = from
        self.to = to
        self.subject = subject
        self.date = date
        let domain = MailMessage.address(in: from).split(separator: "@").last.map(String.init) ?? "nightshift.local"
        self.messageID = messageID ?? "<\(UUID().uuidString.lowercased())@\(domain)>"
        self.text = text
        self.html = html
    }

    /// The message as sent on the wire: CRLF line endings, 7-bit headers, base64 bodies. The same
    /// message renders to the same bytes: the boundary comes from the Message-ID (it cannot occur
    /// in a base64 body, which has no `-`).
    public func rendered() -> String {
        rendered(boundary: "nightshift-" + messageID.filter { $0.isLetter || $0.isNumber })
    }

    public func rendered(boundary: String) -> String {
        var lines: [String] = [
            "From: \(MailMessage.encodeMailbox(from))",
            "To: \(to.map(MailMessage.encodeMailbox).joined(separator: ",\r\n "))",
            "Subject: \(MailMessage.encodeHeaderText(subject))",
            "Date: \(MailMessage.rfc5322Date(date))",
            "Message-ID: \(messageID)",
            "MIME-Version: 1.0",
        ]
        // Text and HTML as alternatives; with attachments, that pair is the first part of a mixed message.
        let alternative = attachments.isEmpty ? boundary : boundary + "-alt"
        if !attachments.isEmpty {
            lines += ["Content-Type: multipart/mixed;\r\n boundary=\"\(boundary)\"", "", "This is a multi-part message in MIME format.",
                      "--\(boundary)", "Content-Type: multipart/alternative;\r\n boundary=\"\(alternative)\"", ""]
        } else {
            lines += ["Content-Type: multipart/alternative;\r\n boundary=\"\(alternative)\"", "", "This is a multi-part message in MIME format."]
        }
        for (type, body) in [("text/plain", text), ("text/html", html)] {
            lines += ["--\(alternative)",
                      "Content-Type: \(type); charset=UTF-8",
                      "Content-Transfer-Encoding: base64",
                      ""]
            lines += MailMessage.base64Lines(Data(body.utf8))
        }
        lines.append("--\(alternative)--")
        for attachment in attachments {
            lines += ["--\(boundary)",
                      "Content-Type: \(attachment.contentType); charset=UTF-8; name=\"\(attachment.filename)\"",
                      "Content-Transfer-Encoding: base64",
                      "Content-Disposition: attachment; filename=\"\(attachment.filename)\"",
                      ""]
            lines += MailMessage.base64Lines(attachment.data)
        }
        if !attachments.isEmpty { lines.append("--\(boundary)--") }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func base64Lines(_ data: Data) -> [String] {
        let encoded = data.base64EncodedString()
        var lines: [String] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
            lines.append(String(encoded[index..<end]))
            index = end
        }
        return lines
    }

    /// `Name <addr>` with a non-ASCII name becomes `=?UTF-8?B?...?= <addr>`.
    static func encodeMailbox(_ mailbox: String) -> String {
        guard let open = mailbox.lastIndex(of: "<") else { return mailbox }
        let name = mailbox[..<open].trimmingCharacters(in: .whitespaces)
        let address = mailbox[open...]
        if name.isEmpty { return String(address) }
        if name.allSatisfy({ $0.isASCII }) {
            let quoted = name.contains(where: { "()<>@,;:\\\".[]".contains($0) }) ? "\"\(name.replacingOccurrences(of: "\"", with: "\\\""))\"" : name
            return "\(quoted) \(address)"
        }
        return "\(encodeHeaderText(name)) \(address)"
    }

    public static func address(in mailbox: String) -> String {
        guard let open = mailbox.lastIndex(of: "<"), let close = mailbox.lastIndex(of: ">"), open < close else { return mailbox }
        return String(mailbox[mailbox.index(after: open)..<close])
    }

    /// RFC 2047 encoded-words (base64) for non-ASCII text, each word at most 75 characters and
    /// never splitting a character; ASCII text is left as it is.
    static func encodeHeaderText(_ text: String) -> String {
        if text.allSatisfy({ $0.isASCII && $0 != "\r" && $0 != "\n" }) { return text }
        var words: [String] = []
        var chunk = Data()
        for character in text {
            let bytes = Data(String(character).utf8)
            // 39 bytes → 52 base64 characters + 12 for =?UTF-8?B??= = 64, so even the first word
            // after "Subject: " stays within the 78-character line limit of RFC 5322.
            if chunk.count + bytes.count > 39 {
                words.append("=?UTF-8?B?\(chunk.base64EncodedString())?=")
                chunk = Data()
            }
            chunk.append(bytes)
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(chunk.base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }

    static func rfc5322Date(_ date: Date, zone: TimeZone = TimeZone(identifier: "Asia/Taipei")!) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: date)
    }
}
