import Foundation
import NightShiftCore

/// One place outputs are delivered to (`deliveries:` in etc/nightshift.yaml), by name; a job names
/// it in `deliver_to:`.
///
///     deliveries:
///       bank:
///         url: sftp://nsdeliver@bank-gw.example:22/inbox/lucky-gas
///         host_key_sha256: "<base64 of the server's host key SHA-256>"   # required: the key is pinned
///         private_key: /etc/nightshift/delivery-bank.key   # ed25519, chmod 600, outside the project
///         timeout_seconds: 300      # max_attempts, retry_seconds, max_retry_seconds as for mail
public struct DeliveryTarget: Sendable, Equatable {
    public let name: String
    /// `sftp://user@host[:port]/folder`: the folder (an absolute path on the server) receives the files.
    public let url: String
    /// The SHA-256 of the server's host key, base64 without `SHA256:` and padding (as `ssh-keygen -lf` prints it).
    public let hostKeySHA256: String
    /// Absolute path of the client's private key (read when a delivery starts).
    public let privateKey: String
    public let timeoutSeconds: Int
    public let maxAttempts: Int
    public let retrySeconds: Int
    public let maxRetrySeconds: Int

    public init(name: String, url: String, hostKeySHA256: String, privateKey: String, timeoutSeconds: Int = 300, maxAttempts: Int = 8,
                retrySeconds: Int = 60, maxRetrySeconds: Int = 3600) {
        self.name = name
        self.url = url
        self.hostKeySHA256 = hostKeySHA256
        self.privateKey = privateKey
        self.timeoutSeconds = timeoutSeconds
        self.maxAttempts = maxAttempts
        self.retrySeconds = retrySeconds
        self.maxRetrySeconds = maxRetrySeconds
    }

    static var namePattern: Regex<Substring> { /^[a-z][a-z0-9_]{0,31}$/ }

    static func readAll(_ section: MappingReader?, root: String) -> [String: DeliveryTarget] {
        guard let section else { return [:] }
        var targets: [String: DeliveryTarget] = [:]
        for name in section.keys {
            guard (try? namePattern.wholeMatch(in: name)) != nil else {
                section.error(name, line: section.line(of: name), "`\(name)` is not a delivery target name",
                              fix: "use lower-case letters, digits and underscores, starting with a letter (at most 32)")
                continue
            }
            guard let target = section.mapping(name, required: true, example: "`url: sftp://user@host/folder`") else { continue }
            if let read = read(target, name: name, root: root) { targets[name] = read }
        }
        section.finish()
        return targets
    }

    private static func read(_ section: MappingReader, name: String, root: String) -> DeliveryTarget? {
        let url = section.scalar("url", required: true, expected: "sftp://user@host[:port]/folder (an absolute folder on the server)",
                                 example: "sftp://nsdeliver@bank-gw.example:22/inbox/lucky-gas") { text -> String? in
            guard let parts = URLComponents(string: text), parts.scheme == "sftp", parts.host?.isEmpty == false, parts.user?.isEmpty == false,
                  parts.password == nil, parts.path.hasPrefix("/"), parts.query == nil, parts.fragment == nil else { return nil }
            return text
        }
        let hostKey = section.scalar("host_key_sha256", required: true,
                                     expected: "the base64 SHA-256 of the server's host key (`ssh-keygen -lf KEY.pub`, without SHA256:)",
                                     example: "\"nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8\"") { text -> String? in
            var key = text.hasPrefix("SHA256:") ? String(text.dropFirst(7)) : text
            while key.hasSuffix("=") { key.removeLast() }
            let padded = key + String(repeating: "=", count: (4 - key.count % 4) % 4)
            guard let bytes = Data(base64Encoded: padded), bytes.count == 32 else { return nil }
            return key
        }
        let privateKey = section.scalar("private_key", required: true, expected: "the absolute path of an ed25519 private key, outside the project",
                                        example: "/etc/nightshift/delivery-\(name).key") { text -> String? in
            text.hasPrefix("/") && !text.contains("\0") ? text : nil
        }
        if let privateKey, privateKey == root || privateKey.hasPrefix(root.hasSuffix("/") ? root : root + "/") {
            section.error("private_key", line: section.line(of: "private_key"),
                          "\(privateKey) is inside the project: a private key must never sit where it could be committed",
                          fix: "keep it outside the project, e.g. /etc/nightshift/delivery-\(name).key (chmod 600)")
        }
        let timeout = section.int("timeout_seconds", range: 1...86_400, example: "300") ?? 300
        let attempts = section.int("max_attempts", range: 1...100, example: "8") ?? 8
        let retry = section.int("retry_seconds", range: 1...86_400, example: "60") ?? 60
        let maxRetry = section.int("max_retry_seconds", range: 1...86_400, example: "3600") ?? 3600
        if maxRetry < retry {
            section.error("max_retry_seconds", line: section.line(of: "max_retry_seconds"),
                          "max_retry_seconds (\(maxRetry)) is below retry_seconds (\(retry))", fix: "make max_retry_seconds at least retry_seconds")
        }
        section.finish()
        guard let url, let hostKey, let privateKey else { return nil }
        return DeliveryTarget(name: name, url: url, hostKeySHA256: hostKey, privateKey: privateKey, timeoutSeconds: timeout,
                              maxAttempts: attempts, retrySeconds: retry, maxRetrySeconds: maxRetry)
    }
}
