import CGPGME

/// A gpgme context bound to one keyring (GnuPG home directory). The only owner of its `gpgme_ctx_t`.
public final class OpenPGPContext: @unchecked Sendable {
    private var ctx: gpgme_ctx_t?
    public let homedir: String?

    /// gpgme must be initialised once per process before any other call (it also ignores SIGPIPE).
    private static let versionChecked: Bool = { gpgme_check_version(nil) != nil }()

    /// - Parameter homedir: the GnuPG home holding the recipients' public keys; nil = gpg's default.
    public init(homedir: String?) throws {
        self.homedir = homedir
        _ = OpenPGPContext.versionChecked
        var ctx: gpgme_ctx_t?
        try OpenPGPContext.check(gpgme_new(&ctx), "creating a gpgme context")
        self.ctx = ctx
        try OpenPGPContext.check(gpgme_set_protocol(ctx, GPGME_PROTOCOL_OpenPGP), "selecting OpenPGP")
        try OpenPGPContext.check(gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, nil, homedir),
                                 "using keyring \(homedir ?? "(default)")")
        gpgme_set_armor(ctx, 0)
    }

    deinit { close() }

    /// Releases the context; safe to call more than once.
    public func close() {
        if let ctx { gpgme_release(ctx) }
        ctx = nil
    }

    private func live(_ what: String) throws -> gpgme_ctx_t {
        guard let ctx else {
            throw OpenPGPError(code: 0, source: 0, message: "context is closed", context: what, fix: nil)
        }
        return ctx
    }

    /// Finds the one usable encryption key for `recipient` (an e-mail address, user ID or fingerprint).
    public func encryptionKey(for recipient: String) throws -> OpenPGPKey {
        try uniqueKey(recipient, secret: false, role: "export recipient",
                      fix: "import the recipient's public key: gpg --homedir \(homedir ?? "~/.gnupg") --import KEY.asc")
    }

    /// Finds the one usable signing key (with its secret part in this keyring) for `signer`.
    public func signingKey(for signer: String) throws -> OpenPGPKey {
        try uniqueKey(signer, secret: true, role: "signing key",
                      fix: "import the signing key's secret part (gpg --homedir \(homedir ?? "~/.gnupg") --import SECRET.asc) "
                          + "or correct export.signing_key in etc/nightshift.yaml")
    }

    private func uniqueKey(_ pattern: String, secret: Bool, role: String, fix: String) throws -> OpenPGPKey {
        let ctx = try live("looking up \(pattern)")
        let keyring = homedir ?? "the default keyring"
        try OpenPGPContext.check(gpgme_op_keylist_start(ctx, pattern, secret ? 1 : 0), "listing keys for \(pattern) in \(keyring)")
        var found: [OpenPGPKey] = []
        while true {
            var key: gpgme_key_t?
            let err = gpgme_op_keylist_next(ctx, &key)
            if nightshift_gpg_err_code(err) == GPG_ERR_EOF.rawValue { break }
            try OpenPGPContext.check(err, "listing keys for \(pattern) in \(keyring)")
            if let key { found.append(OpenPGPKey(handle: key)) }
        }
        _ = gpgme_op_keylist_end(ctx)
        let usable = found.filter { secret ? $0.isUsableForSigning : $0.isUsableForEncryption }
        let distinct = Dictionary(grouping: usable, by: \.fingerprint)
        guard let first = usable.first else {
            let what = secret ? "no secret key for \(pattern)" : "no public key for recipient \(pattern)"
            let unusable = secret ? "the key for \(pattern) cannot sign (revoked, expired, disabled or encrypt-only)"
                : "the key for \(pattern) cannot encrypt (revoked, expired, disabled or sign-only)"
            throw OpenPGPError(code: (secret ? GPG_ERR_NO_SECKEY : GPG_ERR_NO_PUBKEY).rawValue, source: 0,
                               message: found.isEmpty ? what : unusable,
                               context: "looking up the \(role) in \(keyring)", fix: fix)
        }
        guard distinct.count == 1 else {
            throw OpenPGPError(code: GPG_ERR_AMBIGUOUS_NAME.rawValue, source: 0,
                               message: "\(distinct.count) keys match \(pattern): \(distinct.keys.sorted().joined(separator: ", "))",
                               context: "looking up the \(role) in \(keyring)",
                               fix: "name the \(role) by fingerprint in etc/nightshift.yaml")
        }
        return first
    }

    /// A detached, ASCII-armored signature of `bytes` by `signer` (`gpg --verify FILE.asc FILE` checks it).
    public func detachedSignature(of bytes: [UInt8], by signer: OpenPGPKey) throws -> [UInt8] {
        let ctx = try live("signing")
        try useSigner(signer, ctx)
        gpgme_set_armor(ctx, 1)
        defer { gpgme_set_armor(ctx, 0); gpgme_signers_clear(ctx) }
        var plain: gpgme_data_t?
        var signature: gpgme_data_t?
        defer {
            if let plain { gpgme_data_release(plain) }
            if let signature { gpgme_data_release(signature) }
        }
        try bytes.withUnsafeBufferPointer { buffer in
            try OpenPGPContext.check(gpgme_data_new_from_mem(&plain, UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self),
                                                             buffer.count, 1), "wrapping the bytes to sign")
        }
        try OpenPGPContext.check(gpgme_data_new(&signature), "creating the signature buffer")
        try OpenPGPContext.check(gpgme_op_sign(ctx, plain, signature, GPGME_SIG_MODE_DETACH), "signing with \(signer.fingerprint)")
        try OpenPGPContext.checkSigners(ctx, signer)
        var length = 0
        guard let memory = gpgme_data_release_and_get_mem(signature, &length) else {
            signature = nil
            throw OpenPGPError(code: 0, source: 0, message: "gpgme returned no signature", context: "signing with \(signer.fingerprint)", fix: nil)
        }
        signature = nil
        defer { gpgme_free(memory) }
        return Array(UnsafeRawBufferPointer(start: memory, count: length))
    }

    private func useSigner(_ signer: OpenPGPKey, _ ctx: gpgme_ctx_t) throws {
        gpgme_signers_clear(ctx)
        try OpenPGPContext.check(gpgme_signers_add(ctx, signer.handle), "selecting signing key \(signer.fingerprint)")
    }

    /// gpgme reports a signer it could not use (no secret key, a passphrase it could not get) in
    /// the sign result rather than as an error.
    private static func checkSigners(_ ctx: gpgme_ctx_t, _ signer: OpenPGPKey) throws {
        guard let result = gpgme_op_sign_result(ctx) else { return }
        if let invalid = result.pointee.invalid_signers {
            throw OpenPGPError(code: nightshift_gpg_err_code(invalid.pointee.reason), source: 0,
                               message: "signing key \(signer.fingerprint) could not sign", context: "signing",
                               fix: "check that the secret key is in the keyring and needs no passphrase (or that gpg-agent has it)")
        }
        guard result.pointee.signatures != nil else {
            throw OpenPGPError(code: 0, source: 0, message: "gpgme made no signature", context: "signing with \(signer.fingerprint)", fix: nil)
        }
    }

    /// Encrypts a stream to `recipients` (and signs it with `signer`, if given). gpgme pulls plaintext through `read` (fill the buffer,
    /// return the byte count, 0 at the end) and pushes ciphertext through `write`. Nothing is
    /// buffered beyond what gpgme itself holds, so memory stays flat.
    ///
    /// Keys are trusted as configured (ALWAYS_TRUST): the operator chose the recipient in etc/.
    /// Compression is off because the payload is already a zip.
    public func encrypt(to recipients: [OpenPGPKey], signedBy signer: OpenPGPKey? = nil, literalFileName: String?,
                        read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int,
                        write: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        let ctx = try live("encrypting")
        try OpenPGPContext.withStreams(read: read, write: write) { plain, cipher in
            try encrypt(ctx, recipients: recipients, signedBy: signer, literalFileName: literalFileName, plain: plain, cipher: cipher)
        }
    }

    private func encrypt(_ ctx: gpgme_ctx_t, recipients: [OpenPGPKey], signedBy signer: OpenPGPKey?, literalFileName: String?,
                         plain: gpgme_data_t, cipher: gpgme_data_t) throws {
        if let literalFileName { _ = gpgme_data_set_file_name(plain, literalFileName) }

        var keys: [gpgme_key_t?] = recipients.map { $0.handle } + [nil]
        let flags = gpgme_encrypt_flags_t(GPGME_ENCRYPT_ALWAYS_TRUST.rawValue | GPGME_ENCRYPT_NO_COMPRESS.rawValue)
        if let signer { try useSigner(signer, ctx) }
        defer { if signer != nil { gpgme_signers_clear(ctx) } }
        let err = keys.withUnsafeMutableBufferPointer { buffer in
            signer == nil ? gpgme_op_encrypt(ctx, buffer.baseAddress, flags, plain, cipher)
                : gpgme_op_encrypt_sign(ctx, buffer.baseAddress, flags, plain, cipher)
        }
        try OpenPGPContext.check(err, "encrypting to \(recipients.map(\.fingerprint).joined(separator: ", "))")
        if let result = gpgme_op_encrypt_result(ctx), let invalid = result.pointee.invalid_recipients {
            let fpr = invalid.pointee.fpr.map { String(cString: $0) } ?? "?"
            throw OpenPGPError(code: nightshift_gpg_err_code(invalid.pointee.reason), source: 0,
                               message: "recipient \(fpr) was rejected", context: "encrypting",
                               fix: "check that the recipient key is valid and not expired")
        }
        if let signer { try OpenPGPContext.checkSigners(ctx, signer) }
    }

    /// Decrypts a stream: gpgme pulls the OpenPGP message through `read` and pushes the plaintext
    /// through `write`. A message that was changed (its integrity check fails), or that none of this
    /// keyring's secret keys opens, throws. The plaintext must be treated as unverified until
    /// this returns.
    public func decrypt(read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int,
                        write: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        let ctx = try live("decrypting")
        try OpenPGPContext.withStreams(read: read, write: write) { cipher, plain in
            let err = gpgme_op_decrypt(ctx, cipher, plain)
            try OpenPGPContext.check(err, "decrypting with the secret keys of \(homedir ?? "the default keyring")")
            if let result = gpgme_op_decrypt_result(ctx), result.pointee.legacy_cipher_nomdc != 0 {
                throw OpenPGPError(code: GPG_ERR_BAD_DATA.rawValue, source: 0, message: "the message has no integrity protection (MDC)",
                                   context: "decrypting", fix: "a NightShift archive always has one: the file was replaced; restore it from a copy")
            }
        }
    }

    /// Whether this keyring holds a usable secret key for `pattern` (it can decrypt what was encrypted to it).
    public func hasSecretKey(for pattern: String) throws -> Bool {
        let ctx = try live("looking up \(pattern)")
        try OpenPGPContext.check(gpgme_op_keylist_start(ctx, pattern, 1), "listing secret keys for \(pattern)")
        defer { _ = gpgme_op_keylist_end(ctx) }
        var found = false
        while true {
            var key: gpgme_key_t?
            let err = gpgme_op_keylist_next(ctx, &key)
            if nightshift_gpg_err_code(err) == GPG_ERR_EOF.rawValue { break }
            try OpenPGPContext.check(err, "listing secret keys for \(pattern)")
            if let key {
                if key.pointee.revoked == 0 && key.pointee.expired == 0 && key.pointee.disabled == 0 { found = true }
                gpgme_key_unref(key)
            }
        }
        return found
    }

    /// Two gpgme data objects over callbacks: the first pulls from `read`, the second pushes to
    /// `write`. An error thrown by a callback is rethrown instead of gpgme's own EIO.
    private static func withStreams(read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int,
                                    write: @escaping (UnsafeRawBufferPointer) throws -> Void,
                                    _ body: (gpgme_data_t, gpgme_data_t) throws -> Void) throws {
        let streams = StreamBox(read: read, write: write)
        let handle = Unmanaged.passRetained(streams)
        defer { handle.release() }

        let inputCallbacks = UnsafeMutablePointer<gpgme_data_cbs>.allocate(capacity: 1)
        let outputCallbacks = UnsafeMutablePointer<gpgme_data_cbs>.allocate(capacity: 1)
        defer { inputCallbacks.deallocate(); outputCallbacks.deallocate() }
        inputCallbacks.initialize(to: gpgme_data_cbs(read: { handle, buffer, size in
            let box = Unmanaged<StreamBox>.fromOpaque(handle!).takeUnretainedValue()
            do {
                return try box.read(UnsafeMutableRawBufferPointer(start: buffer, count: size))
            } catch {
                box.error = error
                errno = EIO
                return -1
            }
        }, write: nil, seek: nil, release: nil))
        outputCallbacks.initialize(to: gpgme_data_cbs(read: nil, write: { handle, buffer, size in
            let box = Unmanaged<StreamBox>.fromOpaque(handle!).takeUnretainedValue()
            do {
                try box.write(UnsafeRawBufferPointer(start: buffer, count: size))
                return size
            } catch {
                box.error = error
                errno = EIO
                return -1
            }
        }, seek: nil, release: nil))

        var input: gpgme_data_t?
        var output: gpgme_data_t?
        defer {
            if let input { gpgme_data_release(input) }
            if let output { gpgme_data_release(output) }
        }
        try OpenPGPContext.check(gpgme_data_new_from_cbs(&input, inputCallbacks, handle.toOpaque()), "creating the input stream")
        try OpenPGPContext.check(gpgme_data_new_from_cbs(&output, outputCallbacks, handle.toOpaque()), "creating the output stream")
        do {
            try body(input!, output!)
        } catch {
            throw streams.error ?? error
        }
        if let streamError = streams.error { throw streamError }
    }

    final class StreamBox {
        let read: (UnsafeMutableRawBufferPointer) throws -> Int
        let write: (UnsafeRawBufferPointer) throws -> Void
        var error: Error?
        init(read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int,
             write: @escaping (UnsafeRawBufferPointer) throws -> Void) {
            self.read = read
            self.write = write
        }
    }

    static func check(_ err: gpgme_error_t, _ what: String) throws {
        guard err != 0 else { return }
        let message = gpgme_strerror(err).map { String(cString: $0) } ?? "unknown error"
        throw OpenPGPError(code: nightshift_gpg_err_code(err), source: nightshift_gpg_err_source(err),
                           message: message, context: what, fix: nil)
    }
}

#if canImport(Glibc)
import Glibc
#endif
