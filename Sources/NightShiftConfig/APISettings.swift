import Foundation
import NightShiftCore

/// `api:` in etc/nightshift.yaml: where `nightshift run` serves the HTTP trigger, and the file of
/// API keys (their SHA-256 hashes, never the keys). Absent: no API.
public struct APISettings: Sendable, Equatable {
    /// An IPv4 address to listen on (127.0.0.1 keeps it on this machine).
    public let host: String
    public let port: UInt16
    /// Absolute path of the key file (etc/api-keys.yaml by default; `nightshift api-key add` writes it).
    public let keyFile: String

    static func read(_ section: MappingReader?, root: String) -> APISettings? {
        guard let section else { return nil }
        let listen = section.scalar("listen", required: true, expected: "an IPv4 address and port, like 127.0.0.1:8470",
                                    example: "\"127.0.0.1:8470\"", ipv4AndPort)
        let keys = section.string("keys", required: false, example: "etc/api-keys.yaml") ?? "etc/api-keys.yaml"
        var keyFile = "\(root)/\(keys)"
        if keys.hasPrefix("/") || keys.split(separator: "/").contains("..") {
            section.error("keys", line: section.line(of: "keys"), "`\(keys)` leaves the project directory",
                          fix: "give a path relative to the directory holding etc/, e.g. etc/api-keys.yaml")
            keyFile = ""
        }
        section.finish()
        guard let (host, port) = listen, !keyFile.isEmpty else { return nil }
        return APISettings(host: host, port: port, keyFile: keyFile)
    }
}

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
