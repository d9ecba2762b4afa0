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
        let ctx = try live("looking up \(recipient)")
        let keyring = homedir ?? "the default keyring"
        try OpenPGPContext.check(gpgme_op_keylist_start(ctx, recipient, 0), "listing keys for \(recipient) in \(keyring)")
        var found: [OpenPGPKey] = []
        while true {
            var key: gpgme_key_t?
            let err = gpgme_op_keylist_next(ctx, &key)
            if nightshift_gpg_err_code(err) == GPG_ERR_EOF.rawValue { break }
            try OpenPGPContext.check(err, "listing keys for \(recipient) in \(keyring)")
            if let key { found.append(OpenPGPKey(handle: key)) }
        }
        _ = gpgme_op_keylist_end(ctx)
        let usable = found.filter(\.isUsableForEncryption)
        let distinct = Dictionary(grouping: usable, by: \.fingerprint)
        guard let first = usable.first else {
            throw OpenPGPError(code: GPG_ERR_NO_PUBKEY.rawValue, source: 0,
                               message: found.isEmpty ? "no public key for recipient \(recipient)"
                                   : "the key for \(recipient) cannot encrypt (revoked, expired, disabled or sign-only)",
                               context: "looking up the export recipient in \(keyring)",
                               fix: "import the recipient's public key: gpg --homedir \(keyring) --import KEY.asc")
        }
        guard distinct.count == 1 else {
            throw OpenPGPError(code: GPG_ERR_AMBIGUOUS_NAME.rawValue, source: 0,
                               message: "\(distinct.count) keys match \(recipient): \(distinct.keys.sorted().joined(separator: ", "))",
                               context: "looking up the export recipient in \(keyring)",
                               fix: "name the recipient by fingerprint in etc/nightshift.yaml")
        }
        return first
    }

    /// Encrypts a stream to `recipients`. gpgme pulls plaintext through `read` (fill the buffer,
    /// return the byte count, 0 at the end) and pushes ciphertext through `write`. Nothing is
    /// buffered beyond what gpgme itself holds, so memory stays flat.
    ///
    /// Keys are trusted as configured (ALWAYS_TRUST): the operator chose the recipient in etc/.
    /// Compression is off because the payload is already a zip.
    public func encrypt(to recipients: [OpenPGPKey], literalFileName: String?,
                        read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int,
                        write: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        let ctx = try live("encrypting")
        let streams = StreamBox(read: read, write: write)
        let handle = Unmanaged.passRetained(streams)
        defer { handle.release() }

        let plainCallbacks = UnsafeMutablePointer<gpgme_data_cbs>.allocate(capacity: 1)
        let cipherCallbacks = UnsafeMutablePointer<gpgme_data_cbs>.allocate(capacity: 1)
        defer { plainCallbacks.deallocate(); cipherCallbacks.deallocate() }
        plainCallbacks.initialize(to: gpgme_data_cbs(read: { handle, buffer, size in
            let box = Unmanaged<StreamBox>.fromOpaque(handle!).takeUnretainedValue()
            do {
                return try box.read(UnsafeMutableRawBufferPointer(start: buffer, count: size))
            } catch {
                box.error = error
                errno = EIO
                return -1
            }
        }, write: nil, seek: nil, release: nil))
        cipherCallbacks.initialize(to: gpgme_data_cbs(read: nil, write: { handle, buffer, size in
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

        var plain: gpgme_data_t?
        var cipher: gpgme_data_t?
        defer {
            if let plain { gpgme_data_release(plain) }
            if let cipher { gpgme_data_release(cipher) }
        }
        try OpenPGPContext.check(gpgme_data_new_from_cbs(&plain, plainCallbacks, handle.toOpaque()), "creating the plaintext stream")
        try OpenPGPContext.check(gpgme_data_new_from_cbs(&cipher, cipherCallbacks, handle.toOpaque()), "creating the ciphertext stream")
        if let literalFileName { _ = gpgme_data_set_file_name(plain, literalFileName) }

        var keys: [gpgme_key_t?] = recipients.map { $0.handle } + [nil]
        let flags = gpgme_encrypt_flags_t(GPGME_ENCRYPT_ALWAYS_TRUST.rawValue | GPGME_ENCRYPT_NO_COMPRESS.rawValue)
        let err = keys.withUnsafeMutableBufferPointer { buffer in
            gpgme_op_encrypt(ctx, buffer.baseAddress, flags, plain, cipher)
        }
        if let streamError = streams.error { throw streamError }
        try OpenPGPContext.check(err, "encrypting to \(recipients.map(\.fingerprint).joined(separator: ", "))")
        if let result = gpgme_op_encrypt_result(ctx), let invalid = result.pointee.invalid_recipients {
            let fpr = invalid.pointee.fpr.map { String(cString: $0) } ?? "?"
            throw OpenPGPError(code: nightshift_gpg_err_code(invalid.pointee.reason), source: 0,
                               message: "recipient \(fpr) was rejected", context: "encrypting",
                               fix: "check that the recipient key is valid and not expired")
        }
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
