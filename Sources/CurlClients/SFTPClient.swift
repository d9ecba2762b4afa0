import CCurl
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An SFTP server to deliver files to, with its host key pinned.
public struct SFTPServer: Sendable, Equatable {
    /// `sftp://user@host:port/folder`: the folder (an absolute path on the server) receives the files.
    public var url: String
    /// The SHA-256 of the server's host key, base64 (as `ssh-keygen -lf` prints it, without
    /// `SHA256:`). Required: a server whose key differs is refused before anything is sent.
    public var hostKeySHA256: String
    /// The client's private key (ed25519; OpenSSH format).
    public var privateKeyFile: String
    public var keyPassphrase: String?
    /// Seconds to connect and log in.
    public var connectTimeout: Double
    /// Seconds for one whole transfer.
    public var timeout: Double

    public init(url: String, hostKeySHA256: String, privateKeyFile: String, keyPassphrase: String? = nil,
                connectTimeout: Double = 10, timeout: Double = 300) {
        self.url = url
        self.hostKeySHA256 = hostKeySHA256
        self.privateKeyFile = privateKeyFile
        self.keyPassphrase = keyPassphrase
        self.connectTimeout = connectTimeout
        self.timeout = timeout
    }
}

/// A file the server holds under its final name, with the size it reported for it.
public struct SFTPReceipt: Sendable, Equatable {
    public let remotePath: String
    public let size: Int64

    public init(remotePath: String, size: Int64) {
        self.remotePath = remotePath
        self.size = size
    }
}

/// Delivers files to one SFTP server with libcurl (libssh2). One easy handle, whose connection is
/// kept between files. One client per thread; not thread-safe.
///
/// A file is never seen under its final name unless it is complete: it is uploaded as
/// `.NAME.part` (a hidden name: receivers that poll for `*.csv` do not see it), then renamed.
/// SFTP (v3, as libssh2 speaks it) does not rename onto an existing name, so an earlier copy is
/// removed first, in the same connection (the final name is then briefly absent, never partial).
/// Last, the server is asked the final file's size, which must be the local file's.
///
/// An upload that was cut off (the runner killed, the connection lost) is redone from the start,
/// not resumed: libssh2 pipelines its writes, so a cut-off `.part` may hold a hole below its size,
/// and SFTP v3 has no checksum to tell. The redo truncates the `.part`; the receiver ends with one
/// complete copy.
public final class SFTPClient: @unchecked Sendable {
    public let server: SFTPServer
    private let easy: CurlEasy
    /// `sftp://user@host:port` and the folder (no trailing slash).
    private let origin: String
    private let folder: String

    public init(server: SFTPServer) throws {
        self.server = server
        guard let url = URLComponents(string: server.url), url.scheme == "sftp", let host = url.host, !host.isEmpty,
              url.user?.isEmpty == false, url.path.hasPrefix("/") else {
            throw SFTPError(.configuration, curlCode: 0, message: "\(server.url) is not sftp://user@host[:port]/folder", url: server.url)
        }
        guard !server.hostKeySHA256.isEmpty, Data(base64Encoded: SFTPClient.padded(server.hostKeySHA256)) != nil else {
            throw SFTPError(.configuration, curlCode: 0, message: "the host key SHA-256 \(server.hostKeySHA256.debugDescription) is not base64", url: server.url)
        }
        let path = url.path.count > 1 && url.path.hasSuffix("/") ? String(url.path.dropLast()) : url.path
        folder = path == "/" ? "" : path
        var origin = url
        origin.path = ""
        origin.query = nil
        origin.fragment = nil
        self.origin = origin.string ?? server.url
        do { easy = try CurlEasy() } catch {
            throw SFTPError(curlCode: error.code, message: error.message, url: server.url)
        }
    }

    /// Closes the connection and frees the handle. Idempotent.
    public func close() { easy.close() }

    /// Bytes libcurl hands to libssh2 per write (its default is 64 KiB).
    static let uploadBuffer = 512 * 1024

    /// The path the server gives a file named `name` in the folder.
    public func remotePath(of name: String) -> String { "\(folder)/\(name)" }

    /// Uploads the local file at `path` as `name` (letters, digits, `.`, `_`, `-`; not starting
    /// with `.`) into the folder: as `.name.part`, then renamed, then its size checked.
    public func upload(file path: String, as name: String) throws -> SFTPReceipt {
        guard SFTPClient.isPlainName(name) else {
            throw SFTPError(.configuration, curlCode: 0, message: "\(name.debugDescription) is not a plain file name (letters, digits, '.', '_', '-'; not starting with '.')",
                            url: server.url)
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw SFTPError(.localFile, curlCode: 0, message: "cannot read \(path): \(String(cString: strerror(errno)))", url: server.url)
        }
        defer { _ = Glibc.close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw SFTPError(.localFile, curlCode: 0, message: "cannot read \(path): \(String(cString: strerror(errno)))", url: server.url)
        }
        let size = Int64(info.st_size)
        let temporary = ".\(name).part"
        let source = FileSource(descriptor: descriptor)
        var quote: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(quote) }
        // `*`: a failure is ignored (there is usually no earlier copy to remove).
        for command in ["*rm \(remotePath(of: name))", "rename \(remotePath(of: temporary)) \(remotePath(of: name))"] {
            guard let appended = curl_slist_append(quote, command) else {
                throw SFTPError(curlCode: Int(CURLE_OUT_OF_MEMORY.rawValue), message: "out of memory", url: server.url)
            }
            quote = appended
        }
        try withExtendedLifetime(source) {
            let handle = try prepare(url: origin + remotePath(of: temporary))
            try set(nightshift_curl_set_long(handle, CURLOPT_UPLOAD, 1), "upload")
            try set(nightshift_curl_set_long(handle, CURLOPT_UPLOAD_BUFFERSIZE, SFTPClient.uploadBuffer), "the upload buffer")
            try set(nightshift_curl_set_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(size)), "the file's size")
            try set(nightshift_curl_set_long(handle, CURLOPT_FTP_CREATE_MISSING_DIRS, Int(CURLFTP_CREATE_DIR.rawValue)), "folder creation")
            try set(nightshift_curl_set_io_callback(handle, CURLOPT_READFUNCTION, readFile), "the reader")
            try set(nightshift_curl_set_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(source).toOpaque()), "the reader's data")
            try set(nightshift_curl_set_list(handle, CURLOPT_POSTQUOTE, quote), "the rename")
            let failure = easy.perform()
            _ = nightshift_curl_set_pointer(handle, CURLOPT_READDATA, nil)
            _ = nightshift_curl_set_list(handle, CURLOPT_POSTQUOTE, nil)
            if let failure { throw self.failure(failure, doing: "uploading \(path) as \(remotePath(of: temporary))") }
            if let problem = source.problem {
                throw SFTPError(.localFile, curlCode: 0, message: "reading \(path) failed: \(problem)", url: server.url)
            }
        }
        guard let stored = try self.size(of: name) else {
            throw SFTPError(.incomplete, curlCode: 0, message: "\(remotePath(of: name)) is not on the server after its upload and rename", url: server.url)
        }
        guard stored == size else {
            throw SFTPError(.incomplete, curlCode: 0, message: "\(remotePath(of: name)) holds \(stored) bytes on the server, not \(size)", url: server.url)
        }
        return SFTPReceipt(remotePath: remotePath(of: name), size: stored)
    }

    /// The size of `name` in the folder as the server reports it; nil when there is no such file.
    public func size(of name: String) throws -> Int64? {
        let handle = try prepare(url: origin + remotePath(of: name))
        try set(nightshift_curl_set_long(handle, CURLOPT_NOBODY, 1), "size only")
        if let failure = easy.perform() {
            if failure.code == Int(CURLE_REMOTE_FILE_NOT_FOUND.rawValue) { return nil }
            throw self.failure(failure, doing: "asking the size of \(remotePath(of: name))")
        }
        var length: curl_off_t = -1
        try set(nightshift_curl_get_offset(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length), "the size")
        return length < 0 ? nil : Int64(length)
    }

    /// Removes `name` from the folder (nothing when it is not there).
    public func remove(_ name: String) throws {
        guard SFTPClient.isPlainName(name) || (name.hasPrefix(".") && SFTPClient.isPlainName(String(name.dropFirst()))) else {
            throw SFTPError(.configuration, curlCode: 0, message: "\(name.debugDescription) is not a plain file name", url: server.url)
        }
        var quote: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(quote) }
        quote = curl_slist_append(nil, "*rm \(remotePath(of: name))")
        let handle = try prepare(url: origin + folder + "/")
        try set(nightshift_curl_set_long(handle, CURLOPT_NOBODY, 1), "no listing")
        try set(nightshift_curl_set_list(handle, CURLOPT_QUOTE, quote), "the removal")
        let failure = easy.perform()
        _ = nightshift_curl_set_list(handle, CURLOPT_QUOTE, nil)
        if let failure { throw self.failure(failure, doing: "removing \(remotePath(of: name))") }
    }

    /// The options every transfer shares: the URL, SFTP only, the pinned host key, key login, timeouts.
    private func prepare(url: String) throws -> UnsafeMutableRawPointer {
        easy.reset()
        let handle: UnsafeMutableRawPointer
        do { handle = try easy.open() } catch { throw SFTPError(curlCode: error.code, message: error.message, url: server.url) }
        try set(nightshift_curl_set_string(handle, CURLOPT_URL, url), "the URL")
        try set(nightshift_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "sftp"), "the protocol")
        try set(nightshift_curl_set_string(handle, CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256, SFTPClient.unpadded(server.hostKeySHA256)),
                "the pinned host key")
        try set(nightshift_curl_set_long(handle, CURLOPT_SSH_AUTH_TYPES, Int(CURLSSH_AUTH_PUBLICKEY)), "key authentication")
        try set(nightshift_curl_set_string(handle, CURLOPT_SSH_PRIVATE_KEYFILE, server.privateKeyFile), "the private key")
        if let passphrase = server.keyPassphrase { try set(nightshift_curl_set_string(handle, CURLOPT_KEYPASSWD, passphrase), "the key's passphrase") }
        try set(nightshift_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(server.connectTimeout * 1000)), "the connect timeout")
        try set(nightshift_curl_set_long(handle, CURLOPT_TIMEOUT_MS, Int(server.timeout * 1000)), "the timeout")
        return handle
    }

    private func set(_ code: CURLcode, _ what: String) throws {
        do { try easy.set(code, what) } catch { throw SFTPError(curlCode: error.code, message: error.message, url: server.url) }
    }

    private func failure(_ failure: CurlFailure, doing what: String) -> SFTPError {
        // libcurl: "... mismatch sha256 fingerprint. Remote <b64> is not equal to <pinned>"
        if failure.code == Int(CURLE_PEER_FAILED_VERIFICATION.rawValue),
           let match = failure.message.firstMatch(of: /Remote (\S+) is not equal to (\S+)/) {
            return SFTPError(curlCode: failure.code, message: "host key mismatch: expected SHA256:\(SFTPClient.unpadded(String(match.2))) got SHA256:\(SFTPClient.unpadded(String(match.1))); nothing was sent",
                             url: server.url)
        }
        return SFTPError(curlCode: failure.code, message: "\(what): \(failure.message)", url: server.url)
    }

    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".") && name.utf8.count <= 200
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
    }

    static func unpadded(_ base64: String) -> String {
        var text = base64.hasPrefix("SHA256:") ? String(base64.dropFirst(7)) : base64
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    static func padded(_ base64: String) -> String {
        let text = unpadded(base64)
        return text + String(repeating: "=", count: (4 - text.count % 4) % 4)
    }
}

/// The file being uploaded, read in the pieces curl asks for (memory stays flat).
private final class FileSource {
    let descriptor: Int32
    var problem: String?
    init(descriptor: Int32) { self.descriptor = descriptor }
}

private let readFile: nightshift_curl_io_callback = { buffer, size, count, context in
    guard let buffer, let context else { return nightshift_curl_read_abort() }
    let source = Unmanaged<FileSource>.fromOpaque(context).takeUnretainedValue()
    while true {
        let n = read(source.descriptor, buffer, size * count)
        if n >= 0 { return n }
        if errno == EINTR { continue }
        source.problem = String(cString: strerror(errno))
        return nightshift_curl_read_abort()
    }
}
