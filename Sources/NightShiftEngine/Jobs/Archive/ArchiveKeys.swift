import NightShiftConfig
import NightShiftCore
import Packaging

/// The OpenPGP side of archiving: the recipients' keys, and a secret key of one of them in the
/// runner's keyring. An archive is verified by decrypting it before its rows are deleted, so a
/// runner that could not decrypt must not archive at all.
struct ArchiveKeys {
    let pgp: OpenPGPContext
    let recipients: [OpenPGPKey]
    var fingerprints: [String] { recipients.map(\.fingerprint) }

    init(recipients names: [String], keyring: String) throws {
        let pgp = try OpenPGPContext(homedir: keyring)
        let keys = try names.map { try pgp.encryptionKey(for: $0) }
        guard try keys.contains(where: { try pgp.hasSecretKey(for: $0.fingerprint) }) else {
            throw JobFailure(failureClass: .permanent, sqlState: nil, message: """
                the keyring \(keyring) holds no secret key of the archive recipients (\(names.joined(separator: ", "))): \
                an archive is verified by decrypting it before its rows are deleted. Fix: import the secret key of one \
                recipient into the runner's keyring (gpg --homedir \(keyring) --import SECRET.asc), or add a recipient whose \
                secret key it holds
                """)
        }
        self.pgp = pgp
        recipients = keys
    }

    var protection: ArchiveProtection { ArchiveProtection(pgp: pgp, recipients: recipients) }
}
