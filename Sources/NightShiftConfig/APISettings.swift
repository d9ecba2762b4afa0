import Foundation
import NightShiftCore

/// `api:` in etc/nightshift.yaml: where `nightshift run` serves the HTTP trigger, the file of
/// API keys (their SHA-256 hashes, never the keys), TLS, and the rate limits. Absent: no API.
///
///     api:
///       listen: "0.0.0.0:8470"            # not loopback: tls is required
///       keys: etc/api-keys.yaml
///       tls: {certificate: etc/tls/api.crt, key: etc/tls/api.key}
///       rate_limit: {per_key_per_minute: 60, per_address_per_minute: 120}
public struct APISettings: Sendable, Equatable {
    /// An IPv4 address to listen on (127.0.0.1 keeps it on this machine).
    public let host: String
    public let port: UInt16
    /// Absolute path of the key file (etc/api-keys.yaml by default; `nightshift api-key add` writes it).
    public let keyFile: String
    /// The certificate chain and private key (PEM); nil: plain HTTP, allowed on loopback only.
    public let tls: TLSFiles?
    /// Calls a minute allowed to one API key, and to one client address (valid key or not).
    public let perKeyPerMinute: Int
    public let perAddressPerMinute: Int

    public init(host: String, port: UInt16, keyFile: String, tls: TLSFiles? = nil,
                perKeyPerMinute: Int = 60, perAddressPerMinute: Int = 120) {
        self.host = host
        self.port = port
        self.keyFile = keyFile
        self.tls = tls
        self.perKeyPerMinute = perKeyPerMinute
        self.perAddressPerMinute = perAddressPerMinute
    }

    static func read(_ section: MappingReader?, root: String) -> APISettings? {
        guard let section else { return nil }
        let listen = section.scalar("listen", required: true, expected: "an IPv4 address and port, like 127.0.0.1:8470",
                                    example: "\"127.0.0.1:8470\"", ipv4AndPort)
        let keys = section.string("keys", required: false, example: "etc/api-keys.yaml") ?? "etc/api-keys.yaml"
        var keyFile = ""
        switch ConfigText.inside(root, keys) {
        case let .success(path): keyFile = path
        case let .failure(failure):
            section.error("keys", line: section.line(of: "keys"), failure.problem,
                          fix: "give a path relative to the directory holding etc/, e.g. etc/api-keys.yaml, and keep the file inside it")
        }
        let tls = TLSFiles.read(section, root: root, example: "{certificate: etc/tls/api.crt, key: etc/tls/api.key}")
        if let (host, _) = listen, !isLoopback(host), tls == nil, !section.has("tls") {
            section.error("listen", line: section.line(of: "listen"),
                          "\(host) is not a loopback address and api.tls is not set: API keys would cross the network in clear text",
                          fix: "add `tls: {certificate: etc/tls/api.crt, key: etc/tls/api.key}` (PEM files), or listen on 127.0.0.1")
        }
        var perKey = 60, perAddress = 120
        if let limits = section.mapping("rate_limit", required: false, example: "{per_key_per_minute: 60, per_address_per_minute: 120}") {
            perKey = limits.int("per_key_per_minute", range: 1...100_000, example: "60") ?? perKey
            perAddress = limits.int("per_address_per_minute", range: 1...100_000, example: "120") ?? perAddress
            limits.finish()
        }
        section.finish()
        guard let (host, port) = listen, !keyFile.isEmpty, tls != nil || !section.has("tls") else { return nil }
        return APISettings(host: host, port: port, keyFile: keyFile, tls: tls, perKeyPerMinute: perKey, perAddressPerMinute: perAddress)
    }
}

/// `tls: {certificate: FILE, key: FILE}`: a PEM certificate chain and its private key, inside the
/// project. The key must not be readable by other accounts (`check` says so).
public struct TLSFiles: Sendable, Equatable {
    public let certificate: String
    public let key: String

    public init(certificate: String, key: String) {
        self.certificate = certificate
        self.key = key
    }

    static func read(_ parent: MappingReader, root: String, example: String) -> TLSFiles? {
        guard let section = parent.mapping("tls", required: false, example: example) else { return nil }
        var paths: [String] = []
        for key in ["certificate", "key"] {
            guard let relative = section.string(key, example: key == "key" ? "etc/tls/api.key" : "etc/tls/api.crt") else { continue }
            // Inside the project, also through symbolic links (the key is a secret).
            let path: String
            switch ConfigText.inside(root, relative) {
            case let .success(full): path = full
            case let .failure(failure):
                section.error(key, line: section.line(of: key), failure.problem,
                              fix: "give a path relative to the directory holding etc/, e.g. etc/tls/api.\(key == "key" ? "key" : "crt")")
                continue
            }
            // Only the runner's account needs to read them (a person's commands load this file too):
            // the runner checks it can use them when it starts serving.
            guard FileManager.default.fileExists(atPath: path) else {
                section.error(key, line: section.line(of: key), "\(relative) does not exist",
                              fix: "put the PEM \(key == "key" ? "private key" : "certificate chain") there, readable by the runner's account")
                continue
            }
            if key == "key", let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int,
               mode & 0o007 != 0 {
                section.error(key, line: section.line(of: key), "\(relative) is readable or writable by every account (mode \(String(mode, radix: 8)))",
                              fix: "chmod 600 \(relative) (or 640 with the runner's group)")
                continue
            }
            paths.append(path)
        }
        section.finish()
        return paths.count == 2 ? TLSFiles(certificate: paths[0], key: paths[1]) : nil
    }
}

/// 127.0.0.0/8.
func isLoopback(_ host: String) -> Bool { host.hasPrefix("127.") }

/// `A.B.C.D:PORT` as (address, port); nil when it is not one.
func ipv4AndPort(_ text: String) -> (String, UInt16)? {
    let parts = text.split(separator: ":")
    guard parts.count == 2, let port = UInt16(parts[1]), port > 0 else { return nil }
    let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
    guard octets.count == 4 else { return nil }
    return (String(parts[0]), port)
}

/// One API key: its name (who calls, in the audit), the SHA-256 of the key, and the batches it
/// may start.
public struct APIKey: Sendable, Equatable {
    public let name: String
    public let sha256: String
    public let batches: Set<BatchKind>

    public init(name: String, sha256: String, batches: Set<BatchKind>) {
        self.name = name
        self.sha256 = sha256
        self.batches = batches
    }
}

/// Reads the key file:
///
///     keys:
///       - name: erp-scheduler
///         sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
///         batches: [daily, monthly]
public enum APIKeysFile {
    public static func read(path: String) -> (keys: [APIKey], errors: [ConfigError]) {
        let diagnostics = Diagnostics()
        let file = (path as NSString).lastPathComponent
        guard FileManager.default.fileExists(atPath: path) else { return ([], []) }
        guard let top = MappingReader.open(path: path, file: file, diagnostics: diagnostics) else { return ([], diagnostics.errors) }
        var keys: [APIKey] = []
        var names: Set<String> = []
        for (i, item) in (top.sequence("keys", required: true, example: "a list of keys") ?? []).enumerated() {
            guard let entry = MappingReader(item, file: file, prefix: "keys[\(i)]", diagnostics: diagnostics) else { continue }
            let name = entry.string("name", example: "erp-scheduler")
            let hash = entry.scalar("sha256", required: true, expected: "64 lowercase hex digits (the SHA-256 of the key)",
                                    example: "`nightshift api-key add NAME` writes it") { text in
                text.count == 64 && text.allSatisfy { "0123456789abcdef".contains($0) } ? text : nil
            }
            let batches = entry.stringList("batches", required: true, example: "[daily, monthly]") ?? []
            var kinds: Set<BatchKind> = []
            for batch in batches {
                guard let kind = BatchKind(rawValue: batch) else {
                    entry.error("batches", line: entry.line(of: "batches"), "`\(batch)` is not a batch", fix: "use daily, weekly, monthly or yearend")
                    continue
                }
                kinds.insert(kind)
            }
            if let name, !names.insert(name).inserted {
                entry.error("name", line: entry.line(of: "name"), "key \(name) is listed twice", fix: "give each key its own name")
            }
            entry.finish()
            if let name, let hash { keys.append(APIKey(name: name, sha256: hash, batches: kinds)) }
        }
        top.finish()
        return (diagnostics.errors.isEmpty ? keys : [], diagnostics.errors)
    }
}
