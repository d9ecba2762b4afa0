import Foundation

/// A GnuPG home with one freshly generated key pair, made with the real `gpg` CLI, so tests can
/// encrypt to it (through gpgme) and decrypt what was written (through `gpg`).
public final class ThrowawayKeyring {
    public let home: String
    public let email: String

    public init(email: String = "exports@luckygas.test") throws {
        let dir = try TemporaryDirectory("nightshift-gnupg")
        home = dir.path
        self.email = email
        chmod(home, 0o700)
        let generated = try runProcess(["gpg", "--homedir", home, "--batch", "--passphrase", "", "--pinentry-mode", "loopback",
                                        "--quick-gen-key", "Lucky Gas Test <\(email)>", "default", "default", "never"])
        guard generated.status == 0 else {
            throw TestSetupError("gpg --quick-gen-key failed: \(generated.stderr)")
        }
    }

    /// Decrypts `file` with the real gpg CLI into `output`.
    public func decrypt(_ file: String, to output: String) throws {
        let result = try runProcess(["gpg", "--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback",
                                     "--passphrase", "", "--output", output, "--decrypt", file])
        guard result.status == 0 else { throw TestSetupError("gpg --decrypt \(file) failed: \(result.stderr)") }
    }

    /// The fingerprint of the key pair (upper-case hex, as gpgme reports it).
    public func fingerprint() throws -> String {
        let listed = try runProcess(["gpg", "--homedir", home, "--batch", "--with-colons", "--list-keys", email])
        guard let line = listed.stdout.split(separator: "\n").first(where: { $0.hasPrefix("fpr:") }) else {
            throw TestSetupError("gpg --list-keys \(email) printed no fingerprint: \(listed.stderr)")
        }
        return String(line.split(separator: ":", omittingEmptySubsequences: false)[9])
    }

    /// Stops the gpg-agent this keyring started and deletes the keyring.
    public func remove() {
        _ = try? runProcess(["gpgconf", "--homedir", home, "--kill", "gpg-agent"])
        try? FileManager.default.removeItem(atPath: home)
    }
}

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
