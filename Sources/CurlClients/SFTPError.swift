/// A failed SFTP delivery: libcurl's code and message (a host key that does not match says both
/// keys), the server, whether sending again can help, and what an operator can do about it.
public struct SFTPError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// libcurl failed the transfer (`curlCode` says how).
        case transfer
        /// The target's configuration cannot work (the URL, the host key's form, a file name).
        case configuration
        /// The server holds the file with a size that differs, or not at all, after its upload.
        case incomplete
        /// The local file cannot be read.
        case localFile
    }

    public let kind: Kind
    /// libcurl's `CURLcode` (0 when the failure is NightShift's own check).
    public let curlCode: Int
    public let message: String
    /// The server, as configured (`sftp://user@host:port/folder`).
    public let url: String

    public init(_ kind: Kind = .transfer, curlCode: Int, message: String, url: String) {
        self.kind = kind
        self.curlCode = curlCode
        self.message = message
        self.url = url
    }

    /// Sending again cannot help until an operator acts: the host key differs (60), the server
    /// refuses the login (67) or the folder (9), the configuration is wrong, or the local file is
    /// gone. A file that arrived incomplete is sent again.
    public var isPermanent: Bool {
        switch kind {
        case .transfer: [60, 67, 9].contains(curlCode)
        case .configuration, .localFile: true
        case .incomplete: false
        }
    }

    public var fix: String {
        switch curlCode {
        case 60:
            return "the server's host key is not the pinned one: if the server's key was really changed, confirm the new one with its administrator and update host_key_sha256; otherwise do not deliver there"
        case 67:
            return "the server does not accept the key: give the account the public key of private_key (ed25519), and check the user name in the URL"
        case 9:
            return "the account may not write the folder: check the URL's path and its permissions on the server"
        case 6:
            return "the host name does not resolve: check the URL"
        case 7:
            return "nothing accepts connections there: check the URL and that the server runs; the delivery is retried"
        case 28:
            return "the server did not answer in time; the delivery is retried (or raise timeout_seconds)"
        case 0 where kind == .configuration:
            return "correct the delivery target's configuration"
        case 0 where kind == .localFile:
            return "the output file is gone or unreadable: run its job again (`nightshift submit`), then retry the delivery"
        default:
            return "the delivery is retried; if it keeps failing, check the server's log"
        }
    }

    public var description: String {
        var text = "SFTP delivery to \(url) failed: \(message)"
        if curlCode != 0 { text += " (curl error \(curlCode))" }
        return text + "; fix: \(fix)"
    }
}
