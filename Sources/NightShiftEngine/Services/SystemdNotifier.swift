import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// sd_notify without libsystemd: datagrams to the AF_UNIX socket named by `$NOTIFY_SOCKET`
/// (a leading `@` is an abstract socket). READY=1, STATUS=…, STOPPING=1, WATCHDOG=1.
/// Does nothing when the variable is not set (not started by systemd).
public final class SystemdNotifier: @unchecked Sendable {
    private let path: [UInt8]
    private let fd: Int32

    public init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let socketPath = environment["NOTIFY_SOCKET"], !socketPath.isEmpty else { return nil }
        var bytes = Array(socketPath.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        guard bytes.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        self.fd = fd
        path = bytes
    }

    deinit { close(fd) }

    /// Sends one notification; failures are ignored (systemd may have gone away).
    public func notify(_ state: String) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.enumerated() { raw[i] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        var payload = Array(state.utf8)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, &payload, payload.count, Int32(MSG_NOSIGNAL), $0, length)
            }
        }
    }
}
