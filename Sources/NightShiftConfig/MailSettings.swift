import Foundation
import NightShiftCore

/// `mail:` in etc/nightshift.yaml: who the mail is from and to, the SMTP server that delivers it,
/// and how the outbox retries.
public struct MailSettings: Sendable, Equatable {
    public let from: String
    /// Recipients of the summaries.
    public let to: [String]
    /// nil: mail stays in the outbox (`nightshift status` shows it) until a server is configured.
    public let smtp: SMTPSettings?
    /// Deliveries tried before a message becomes a dead letter.
    public let maxAttempts: Int
    /// The first back-off after a failed delivery; it doubles each time, up to `maxRetrySeconds`.
    public let retrySeconds: Int
    public let maxRetrySeconds: Int
    /// When the night's mail is written (`morning:`, minutes after local midnight; 07:00).
    public let morningMinute: Int
    /// Per batch (`batches:`): a mail of its own when it ends, and who else gets its mail.
    public let batches: [BatchKind: BatchMail]
    /// Per job (`jobs:`): who else gets the mail of a batch that ran it.
    public let jobs: [String: [String]]
    /// Who gets the immediate alerts (`on_call:`); empty: alerts are recorded and logged only.
    public var onCall: [String] = []
    /// A message waiting longer than this (`outbox_alert_minutes:`) is an alert: the outbox backs up.
    public var outboxAlertMinutes = 30
    /// Where each job under `jobs:` is written (line), to name a job that does not exist.
    var jobLines: [String: Int] = [:]

    public struct BatchMail: Sendable, Equatable {
        /// The batch also gets a mail of its own when it ends (the night's mail covers it anyway).
        public let ownMail: Bool
        public let to: [String]

        public init(ownMail: Bool, to: [String]) {
            self.ownMail = ownMail
            self.to = to
        }
    }

    public init(from: String, to: [String], smtp: SMTPSettings? = nil, maxAttempts: Int = 8, retrySeconds: Int = 30,
                maxRetrySeconds: Int = 3600, morningMinute: Int = 420, batches: [BatchKind: BatchMail] = [:], jobs: [String: [String]] = [:]) {
        self.from = from
        self.to = to
        self.smtp = smtp
        self.maxAttempts = maxAttempts
        self.retrySeconds = retrySeconds
        self.maxRetrySeconds = maxRetrySeconds
        self.morningMinute = morningMinute
        self.batches = batches
        self.jobs = jobs
    }

    /// Who gets the mail about these batch runs' jobs: `to`, then each batch's and each job's
    /// own recipients, each address once (compared without the display name, case-insensitively).
    public func recipients(batches kinds: [BatchKind], jobs names: [String]) -> [String] {
        var seen: Set<String> = []
        var all: [String] = []
        for mailbox in to + kinds.flatMap({ batches[$0]?.to ?? [] }) + names.flatMap({ jobs[$0] ?? [] }) {
            let address = mailbox.lastIndex(of: "<").map { String(mailbox[mailbox.index(after: $0)...].prefix { $0 != ">" }) } ?? mailbox
            if seen.insert(address.lowercased()).inserted { all.append(mailbox) }
        }
        return all
    }

    static func read(_ mail: MappingReader?, root: String) -> MailSettings? {
        guard let mail else { return nil }
        let from = mail.string("from", required: true, example: "NightShift <nightshift@luckygas.example>") ?? ""
        let to = mail.stringList("to", required: true, example: "[ops@luckygas.example]") ?? []
        if to.isEmpty, mail.has("to") {
            mail.error("to", line: mail.line(of: "to"), "the summary needs at least one recipient", fix: "list at least one address under `to:`")
        }
        let smtp = SMTPSettings.read(mail.mapping("smtp", required: false, example: "`url: smtp://mail.luckygas.example:587`"), root: root)
        let attempts = mail.int("max_attempts", range: 1...100, example: "8") ?? 8
        let retry = mail.int("retry_seconds", range: 1...86_400, example: "30") ?? 30
        let maxRetry = mail.int("max_retry_seconds", range: 1...86_400, example: "3600") ?? 3600
        let morning = mail.scalar("morning", required: false, expected: "a time HH:MM", example: "\"07:00\"") { text -> Int? in
            let parts = text.split(separator: ":")
            guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
                  (0..<24).contains(h), (0..<60).contains(m) else { return nil }
            return h * 60 + m
        } ?? 420
        var batches: [BatchKind: BatchMail] = [:]
        // Addresses of the nested lists, checked with the others below: (key, line, address).
        var listed: [(String, Int?, String)] = []
        if let section = mail.mapping("batches", required: false, example: "`monthly: {own_mail: true, to: [finance@luckygas.example]}`") {
            for kind in BatchKind.allCases {
                guard let entry = section.mapping(kind.rawValue, required: false, example: "`{own_mail: true, to: [finance@luckygas.example]}`")
                else { continue }
                let own = entry.bool("own_mail") ?? false
                let to = entry.stringList("to", required: false, example: "[finance@luckygas.example]") ?? []
                for address in to { listed.append(("batches.\(kind.rawValue).to", entry.line(of: "to"), address)) }
                entry.finish()
                batches[kind] = BatchMail(ownMail: own, to: to)
            }
            section.finish()
        }
        var jobs: [String: [String]] = [:]
        var jobLines: [String: Int] = [:]
        if let section = mail.mapping("jobs", required: false, example: "`monthly_close: [cfo@luckygas.example]`") {
            for name in section.keys {
                jobs[name] = section.stringList(name, required: true, example: "[cfo@luckygas.example]") ?? []
                jobLines[name] = section.line(of: name)
                for address in jobs[name] ?? [] { listed.append(("jobs.\(name)", section.line(of: name), address)) }
            }
            section.finish()
        }
        if maxRetry < retry {
            mail.error("max_retry_seconds", line: mail.line(of: "max_retry_seconds"),
                       "max_retry_seconds (\(maxRetry)) is below retry_seconds (\(retry))", fix: "make max_retry_seconds at least retry_seconds")
        }
        let onCall = mail.stringList("on_call", required: false, example: "[\"值班 <oncall@luckygas.example>\"]") ?? []
        let outboxMinutes = mail.int("outbox_alert_minutes", range: 1...10_080, example: "30") ?? 30
        // Every address is an address: a CR or LF in one would forge a header (a Bcc) in every mail.
        func check(_ key: String, _ section: MappingReader, _ addresses: [String]) {
            for address in addresses {
                if let problem = MailAddress.problem(address) {
                    section.error(key, line: section.line(of: key), "\(address.debugDescription) is not a mail address: \(problem)",
                                  fix: "write `Name <user@host>` or `user@host`, on one line")
                }
            }
        }
        check("from", mail, from.isEmpty ? [] : [from])
        check("to", mail, to)
        check("on_call", mail, onCall)
        for (key, line, address) in listed where MailAddress.problem(address) != nil {
            mail.error(key, line: line, "\(address.debugDescription) is not a mail address: \(MailAddress.problem(address) ?? "")",
                       fix: "write `Name <user@host>` or `user@host`, on one line")
        }
        mail.finish()
        var settings = MailSettings(from: from, to: to, smtp: smtp, maxAttempts: attempts, retrySeconds: retry, maxRetrySeconds: maxRetry,
                                    morningMinute: morning, batches: batches, jobs: jobs)
        settings.jobLines = jobLines
        settings.onCall = onCall
        settings.outboxAlertMinutes = outboxMinutes
        return settings
    }
}

/// `mail.smtp:` — the server. The password is never in the YAML: it is in the credentials file.
public struct SMTPSettings: Sendable, Equatable {
    /// `smtp://host:port` (STARTTLS) or `smtps://host:port` (TLS from the start).
    public let url: String
    public let host: String
    /// False only for a loopback server with `tls: off`.
    public let requireTLS: Bool
    /// PEM CA certificates to verify the server with (nil: the system's).
    public let caFile: String?
    /// An absolute path outside the project: `username:` and `password:` (nil: no AUTH).
    public let credentialsFile: String?
    public let timeoutSeconds: Int

    public init(url: String, host: String, requireTLS: Bool, caFile: String?, credentialsFile: String?, timeoutSeconds: Int) {
        self.url = url
        self.host = host
        self.requireTLS = requireTLS
        self.caFile = caFile
        self.credentialsFile = credentialsFile
        self.timeoutSeconds = timeoutSeconds
    }

    /// 127.0.0.0/8, ::1 and localhost: mail that never leaves this machine.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        return octets.count == 4 && octets[0] == 127
    }

    static func read(_ smtp: MappingReader?, root: String) -> SMTPSettings? {
        guard let smtp else { return nil }
        var parsed: (url: String, host: String, implicitTLS: Bool)?
        if let text = smtp.string("url", required: true, example: "smtp://mail.luckygas.example:587") {
            let components = URLComponents(string: text)
            let scheme = components?.scheme?.lowercased()
            if components?.user != nil || components?.password != nil {
                smtp.error("url", line: smtp.line(of: "url"), "the URL carries a user or password",
                           fix: "put them in the file named by mail.smtp.credentials, never in the YAML")
            } else if let components, scheme == "smtp" || scheme == "smtps", let host = components.host, !host.isEmpty,
                      components.path.isEmpty || components.path == "/", components.query == nil {
                parsed = (text, host, scheme == "smtps")
            } else {
                smtp.error("url", line: smtp.line(of: "url"), "`\(text)` is not smtp://HOST:PORT (STARTTLS) or smtps://HOST:PORT (TLS)",
                           fix: "write `url: smtp://mail.luckygas.example:587`")
            }
        }
        let tls = smtp.scalar("tls", required: false, expected: "required or off", example: "required") { ["required": true, "off": false][$0] } ?? true
        if !tls, let parsed {
            if parsed.implicitTLS {
                smtp.error("tls", line: smtp.line(of: "tls"), "tls: off contradicts the smtps:// URL", fix: "use smtp:// or remove tls: off")
            } else if !SMTPSettings.isLoopback(parsed.host) {
                smtp.error("tls", line: smtp.line(of: "tls"), "tls: off sends mail and the password in the clear to \(parsed.host), which is not this machine",
                           fix: "keep TLS (remove tls: off); it may be off only for a loopback server (127.0.0.1, ::1, localhost)")
            }
        }
        var caFile = smtp.string("ca_file", required: false, example: "/etc/ssl/certs/luckygas-ca.pem")
        if let path = caFile, !path.hasPrefix("/") { caFile = "\(root)/\(path)" }
        if let path = caFile, !FileManager.default.isReadableFile(atPath: path) {
            smtp.error("ca_file", line: smtp.line(of: "ca_file"), "\(path) does not exist or cannot be read",
                       fix: "point mail.smtp.ca_file at the PEM file of the CA that signed the server's certificate")
        }
        let credentials = smtp.string("credentials", required: false, example: "/etc/nightshift/smtp-credentials.yaml")
        if let credentials, let problem = SMTPCredentials.locationProblem(credentials, root: root) {
            smtp.error("credentials", line: smtp.line(of: "credentials"), problem.problem, fix: problem.fix)
        }
        let timeout = smtp.int("timeout_seconds", range: 1...600, example: "30") ?? 30
        smtp.finish()
        guard let parsed else { return nil }
        return SMTPSettings(url: parsed.url, host: parsed.host, requireTLS: tls || parsed.implicitTLS, caFile: caFile,
                            credentialsFile: credentials, timeoutSeconds: timeout)
    }
}

/// The SMTP user name and password, from a file outside the project (never in the YAML, never in
/// the repository), readable by its owner only:
///
///     username: nightshift
///     password: "…"
public struct SMTPCredentials: Sendable, Equatable {
    public let username: String
    public let password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// Why `path` is not an acceptable place for credentials (nil: it is).
    static func locationProblem(_ path: String, root: String) -> (problem: String, fix: String)? {
        let fix = "keep the credentials file outside the project directory, by absolute path (e.g. /etc/nightshift/smtp-credentials.yaml), so it is never committed"
        guard path.hasPrefix("/") else { return ("`\(path)` is a relative path, inside the project", fix) }
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let project = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
        if real == project || real.hasPrefix(project + "/") { return ("\(path) is inside the project directory \(project)", fix) }
        return nil
    }

    /// Reads the file: it must be a regular file that only its owner may read.
    public static func read(path: String) -> Result<SMTPCredentials, ConfigError> {
        let file = path
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            return .failure(ConfigError(file: file, line: nil, key: "",
                                        problem: "the credentials file may be read by others (mode \(String(info.st_mode & 0o777, radix: 8)))",
                                        fix: "chmod 600 \(path)"))
        }
        let diagnostics = Diagnostics()
        guard let top = MappingReader.open(path: path, file: file, diagnostics: diagnostics, problem: "cannot read the SMTP credentials file",
                                           fix: "create it with `username:` and `password:` (chmod 600), or correct mail.smtp.credentials") else {
            return .failure(diagnostics.errors.first ?? ConfigError(file: file, line: nil, key: "", problem: "cannot be read", fix: "check it"))
        }
        let username = top.string("username", required: true, example: "nightshift")
        let password = top.string("password", required: true, example: "\"the password\"")
        top.finish()
        guard let username, let password, diagnostics.errors.isEmpty else { return .failure(diagnostics.errors[0]) }
        return .success(SMTPCredentials(username: username, password: password))
    }
}

/// What makes a configured mail address unusable, or nil: one address, `Name <user@host>` or
/// `user@host`, with no control character (a CR or LF would start a header of its own).
public enum MailAddress {
    public static func problem(_ text: String) -> String? {
        if let bad = text.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return String(format: "it holds the control character U+%04X", bad.value)
        }
        var address = Substring(text.trimmingCharacters(in: .whitespaces))
        if let open = address.lastIndex(of: "<") {
            guard address.hasSuffix(">") else { return "the <address> must end the entry" }
            let name = address[..<open]
            if name.contains(where: { "<>".contains($0) }) { return "the name holds < or >" }
            address = address[address.index(after: open)..<address.index(before: address.endIndex)]
        }
        guard (try? /^[^\s<>@,;:"()\[\]\\]+@[^\s<>@,;:"()\[\]\\]+$/.wholeMatch(in: address)) != nil else {
            return "\(address.isEmpty ? "no address" : "\"\(address)\"") is not user@host"
        }
        return nil
    }
}
