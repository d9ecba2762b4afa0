import NightShiftConfig
import NightShiftCore
import Packaging

/// The OpenPGP keys of one export or customer-data report: its recipients and, when it signs, the
/// signing key. Looked up once before any work (a missing key is a configuration error), then
/// again for each packing thread or encrypted file in a gpgme context of its own (a context is not
/// shared between threads).
struct OutputKeys {
    let keyring: String
    let recipients: [String]
    let signer: String?
    let recipientFingerprints: [String]
    let recipientNames: [String]
    let signerFingerprint: String?
    private let context: OpenPGPContext?
    private let signingKey: OpenPGPKey?

    var encrypts: Bool { !recipients.isEmpty }
    var signs: Bool { signer != nil }

    init(spec: ExportSpec, settings: RunnerSettings) throws {
        try self.init(recipients: spec.recipients, sign: spec.sign, settings: settings)
    }

    init(recipients: [String], sign: Bool = false, settings: RunnerSettings) throws {
        keyring = settings.keyring
        self.recipients = recipients
        signer = sign ? settings.signingKey : nil
        guard !recipients.isEmpty || signer != nil else {
            context = nil
            signingKey = nil
            recipientFingerprints = []
            recipientNames = []
            signerFingerprint = nil
            return
        }
        let pgp = try OpenPGPContext(homedir: keyring)
        let keys = try recipients.map { try pgp.encryptionKey(for: $0) }
        recipientFingerprints = keys.map(\.fingerprint)
        recipientNames = keys.map(\.userID)
        signingKey = try signer.map { try pgp.signingKey(for: $0) }
        signerFingerprint = signingKey?.fingerprint
        context = pgp
    }

    /// A fresh context with the keys, for one packing thread or file (nil: nothing is encrypted).
    func protection() throws -> ArchiveProtection? {
        guard encrypts else { return nil }
        let pgp = try OpenPGPContext(homedir: keyring)
        return ArchiveProtection(pgp: pgp, recipients: try recipients.map { try pgp.encryptionKey(for: $0) },
                                 signer: try signer.map { try pgp.signingKey(for: $0) })
    }

    /// The manifest's detached, armored signature (nil when the export is not signed).
    func signManifest(_ bytes: [UInt8]) throws -> [UInt8]? {
        guard let context, let signingKey else { return nil }
        return try context.detachedSignature(of: bytes, by: signingKey)
    }
}
