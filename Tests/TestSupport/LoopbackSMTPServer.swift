import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real SMTP server on 127.0.0.1 (`scripts/smtp-server`: aiosmtpd) with STARTTLS (a
/// certificate made for this test by `openssl`) and AUTH, keeping each accepted message as
/// `<maildir>/N.eml` with its envelope in `N.json`. Stop and start it again on the same port to
/// play a mail server that goes away.
public final class LoopbackSMTPServer: @unchecked Sendable {
    public struct Received {
        public let from: String
        public let to: [String]
        public let user: String?
        public let tls: Bool
        /// The message as the server received it.
        public let data: Data
    }

    public let directory: TemporaryDirectory
    public let port: Int
    public let user: String?
    public let password: String?
    public let tls: Bool
    public var refuse: [String]
    public var dataDelay: Double
    public var certificate: String { directory.file("cert.pem") }
    public var maildir: String { directory.file("mail") }
    public var url: String { "smtp://127.0.0.1:\(port)" }
    private var child: ChildProcess?

    public init(tls: Bool = true, user: String? = "nightshift", password: String? = "s3cret-\(UUID().uuidString.prefix(6))",
                refuse: [String] = [], dataDelay: Double = 0, start: Bool = true) throws {
        directory = try TemporaryDirectory("nightshift-smtp")
        port = try freeLoopbackPort()
        self.tls = tls
        self.user = user
        self.password = password
        self.refuse = refuse
        self.dataDelay = dataDelay
        if tls {
            let made = try runProcess(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                       "-keyout", directory.file("key.pem"), "-out", certificate, "-subj", "/CN=localhost",
                                       "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            guard made.status == 0 else { throw TestSetupError("openssl req failed: \(made.stderr)") }
        }
        if start { try self.start() }
    }

    deinit {
        stop()
        directory.remove()
    }

    /// Starts the server (again) and waits until it accepts connections.
    public func start() throws {
        guard child == nil else { return }
        var arguments = ["/usr/bin/python3", "\(repositoryRoot())/scripts/smtp-server", "--port", String(port), "--maildir", maildir]
        if tls { arguments += ["--tls-cert", certificate, "--tls-key", directory.file("key.pem")] }
        if let user, let password { arguments += ["--user", user, "--password", password] }
        for address in refuse { arguments += ["--refuse", address] }
        if dataDelay > 0 { arguments += ["--data-delay", String(dataDelay)] }
        let log = open(directory.file("server.log"), O_WRONLY | O_CREAT | O_APPEND, 0o644)
        defer { close(log) }
        let started = try ChildProcess(arguments, stdout: log, stderr: log)
        child = started
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: directory.file("server.log"), encoding: .utf8), text.contains("ready \(port)") {
                // The log keeps earlier runs' lines: wait for this run's line to be counted too.
                if text.components(separatedBy: "ready \(port)").count - 1 >= starts + 1 { starts += 1; return }
            }
            guard started.isRunning else {
                throw TestSetupError("scripts/smtp-server exited: \((try? String(contentsOfFile: directory.file("server.log"), encoding: .utf8)) ?? "")")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestSetupError("scripts/smtp-server did not start within 20 s")
    }
    private var starts = 0

    /// Writes NightShift's SMTP credentials file for this server's user (mode 600, as required).
    public func writeCredentials(to path: String) throws {
        try "username: \(user ?? "")\npassword: \"\(password ?? "")\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        guard chmod(path, 0o600) == 0 else { throw TestSetupError("chmod \(path) failed") }
    }

    /// Stops the server (SIGTERM, then SIGKILL) and waits for it to exit.
    public func stop() {
        guard let child else { return }
        child.kill(SIGTERM)
        if child.wait(timeout: 10) == nil {
            child.kill(SIGKILL)
            _ = child.wait(timeout: 10)
        }
        self.child = nil
    }

    /// The messages received so far, in the order the server accepted them.
    public func received() -> [Received] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: maildir)) ?? []).filter { $0.hasSuffix(".eml") }
        return names.compactMap { Int($0.dropLast(4)) }.sorted().compactMap { n in
            guard let data = FileManager.default.contents(atPath: "\(maildir)/\(n).eml"),
                  let envelope = FileManager.default.contents(atPath: "\(maildir)/\(n).json"),
                  let json = try? JSONSerialization.jsonObject(with: envelope) as? [String: Any] else { return nil }
            return Received(from: json["from"] as? String ?? "", to: json["to"] as? [String] ?? [], user: json["user"] as? String,
                            tls: json["tls"] as? Bool ?? false, data: data)
        }
    }

    /// Waits until at least `count` messages have arrived; what has arrived by then.
    public func waitForMessages(_ count: Int, timeout: TimeInterval = 30) -> [Received] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let messages = received()
            if messages.count >= count { return messages }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return received()
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on now (the kernel picks it).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSetupError("socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw TestSetupError("bind failed: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}
