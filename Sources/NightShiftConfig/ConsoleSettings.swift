import Foundation

/// `console:` in etc/nightshift.yaml: where `nightshift run` serves the web console, and how long
/// a person's console session lasts. Absent: no console.
///
///     console:
///       listen: "127.0.0.1:8480"          # not loopback: tls is required, and every page needs a session
///       tls: {certificate: etc/tls/console.crt, key: etc/tls/console.key}
///       session_minutes: 120              # a session from `nightshift console login` ends after this
///       url: "https://ops.luckygas.example:8480"   # what login links start with (default: from listen)
public struct ConsoleSettings: Sendable, Equatable {
    public let host: String
    public let port: UInt16
    public let tls: TLSFiles?
    public let sessionMinutes: Int
    /// The address people open, for the links `console login` prints.
    public let url: String

    /// Loopback: read-only pages need no session. Elsewhere every page needs one.
    public var isLoopback: Bool { NightShiftConfig.isLoopback(host) }

    public init(host: String, port: UInt16, tls: TLSFiles? = nil, sessionMinutes: Int = 120, url: String? = nil) {
        self.host = host
        self.port = port
        self.tls = tls
        self.sessionMinutes = sessionMinutes
        self.url = url ?? "\(tls == nil ? "http" : "https")://\(host):\(port)"
    }

    static func read(_ section: MappingReader?, root: String) -> ConsoleSettings? {
        guard let section else { return nil }
        let listen = section.scalar("listen", required: true, expected: "an IPv4 address and port, like 127.0.0.1:8480",
                                    example: "\"127.0.0.1:8480\"", ipv4AndPort)
        let tls = TLSFiles.read(section, root: root, example: "{certificate: etc/tls/console.crt, key: etc/tls/console.key}")
        if let (host, _) = listen, !NightShiftConfig.isLoopback(host), tls == nil, !section.has("tls") {
            section.error("listen", line: section.line(of: "listen"),
                          "\(host) is not a loopback address and console.tls is not set: session cookies would cross the network in clear text",
                          fix: "add `tls: {certificate: etc/tls/console.crt, key: etc/tls/console.key}` (PEM files), or listen on 127.0.0.1")
        }
        let minutes = section.int("session_minutes", range: 5...1440, example: "120") ?? 120
        let url = section.scalar("url", required: false, expected: "an http:// or https:// address without a path, like https://ops.example:8480",
                                 example: "\"https://ops.luckygas.example:8480\"") { text -> String? in
            guard let parsed = URL(string: text), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil,
                  parsed.path.isEmpty || parsed.path == "/", parsed.query == nil else { return nil }
            return text.hasSuffix("/") ? String(text.dropLast()) : text
        }
        if let url, url.hasPrefix("http://"), tls != nil {
            section.error("url", line: section.line(of: "url"), "the console serves HTTPS (console.tls) but url says http://",
                          fix: "write the https:// address people open")
        }
        section.finish()
        guard let (host, port) = listen, tls != nil || !section.has("tls") else { return nil }
        return ConsoleSettings(host: host, port: port, tls: tls, sessionMinutes: minutes, url: url)
    }
}
