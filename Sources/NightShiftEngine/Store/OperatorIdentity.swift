import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Who is asking: the operating-system account of this process and the host it runs on.
///
/// The account is the real uid resolved to a name; when the kernel knows which account logged in
/// (`/proc/self/loginuid`, set at login by pam_loginuid and kept across sudo and su) and it
/// differs, that login account is the person and the process account is what they act as: sudo
/// does not turn one person into another. Never a flag or an environment variable ($USER,
/// $SUDO_USER and $LOGNAME are ignored).
public struct OperatorIdentity: Sendable, Equatable, CustomStringConvertible {
    /// The person: the login account, else the process's real account.
    public let account: String
    /// The process's real account when it differs from the login account (sudo -u, su).
    public let actingAs: String?
    public let host: String

    public init(account: String, actingAs: String? = nil, host: String) {
        self.account = account
        self.actingAs = actingAs
        self.host = host
    }

    public static func current() -> OperatorIdentity {
        let real = accountName(getuid())
        let host = ProcessInfo.processInfo.hostName
        if let text = try? String(contentsOfFile: "/proc/self/loginuid", encoding: .utf8),
           let login = UInt32(text.trimmingCharacters(in: .whitespacesAndNewlines)), login != UInt32.max, login != getuid() {
            return OperatorIdentity(account: accountName(login), actingAs: real, host: host)
        }
        return OperatorIdentity(account: real, host: host)
    }

    /// The account this process runs as (its effective uid): the database role a person's
    /// commands log in as, which the server's peer authentication checks.
    public static func processAccount() -> String { accountName(geteuid()) }

    /// The account's name from the password database, else `uid:N`.
    static func accountName(_ uid: uid_t) -> String {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, let found = result, let name = found.pointee.pw_name {
            return String(cString: name)
        }
        return "uid:\(uid)"
    }

    /// e.g. `alice@ops-01`, or `bob (as alice)@ops-01`.
    public var description: String { "\(account)\(actingAs.map { " (as \($0))" } ?? "")@\(host)" }
}
