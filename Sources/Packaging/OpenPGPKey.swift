import CGPGME

/// A public key found in a keyring. Owns one reference to its `gpgme_key_t`.
public final class OpenPGPKey: @unchecked Sendable {
    let handle: gpgme_key_t
    public let fingerprint: String
    public let userID: String

    init(handle: gpgme_key_t) {
        self.handle = handle
        fingerprint = handle.pointee.fpr.map { String(cString: $0) } ?? ""
        userID = handle.pointee.uids?.pointee.uid.map { String(cString: $0) } ?? ""
    }

    deinit { gpgme_key_unref(handle) }

    var isUsableForEncryption: Bool {
        let key = handle.pointee
        return key.can_encrypt != 0 && key.revoked == 0 && key.expired == 0 && key.disabled == 0 && key.invalid == 0
    }

    var isUsableForSigning: Bool {
        let key = handle.pointee
        return key.can_sign != 0 && key.secret != 0 && key.revoked == 0 && key.expired == 0 && key.disabled == 0 && key.invalid == 0
    }
}
