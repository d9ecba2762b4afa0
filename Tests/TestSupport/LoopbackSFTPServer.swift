import Foundation

/// A real OpenSSH sftp server on 127.0.0.1 (scripts/sftp-server): one chrooted, sftp-only account
/// with key login, and a host key of its own. `root` is the folder the account sees as `/`; files
/// delivered to `url` land in `root/upload`.
public final class LoopbackSFTPServer {
    public let directory: TemporaryDirectory
    public private(set) var url = ""
    public private(set) var port = 0
    public private(set) var hostKeySHA256 = ""
    public private(set) var privateKey = ""
    public private(set) var root = ""
    public var uploads: String { "\(root)/upload" }
    private var running = false

    public init() throws {
        directory = try TemporaryDirectory("nightshift-sftp")
        try start()
    }

    deinit { stop(removing: true) }

    /// Starts sshd (again: on the same port, with the same keys and files, when `port` is known).
    public func start() throws {
        guard !running else { return }
        if port != 0 {
            // A restart keeps the host key, the client key and the files.
            let result = try runProcess(["/bin/sh", "-c",
                "setsid /usr/sbin/sshd -D -e -f \(directory.file("sshd_config")) >>\(directory.file("sshd.log")) 2>&1 </dev/null & echo $!"])
            guard result.status == 0, let pid = Int32(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw TestSetupError("sshd did not start again: \(result.stderr)")
            }
            self.pid = pid
            try waitForPort()
            running = true
            return
        }
        let result = try runProcess(["\(repositoryRoot())/scripts/sftp-server", "start", directory.path])
        guard result.status == 0 else { throw TestSetupError("scripts/sftp-server failed: \(result.stderr)\(result.stdout)") }
        var facts: [String: String] = [:]
        for line in result.stdout.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { facts[parts[0]] = parts[1] }
        }
        guard let url = facts["URL"], let port = facts["PORT"].flatMap(Int.init), let key = facts["HOST_KEY_SHA256"],
              let privateKey = facts["PRIVATE_KEY"], let root = facts["ROOT"], let pid = facts["PID"].flatMap(Int32.init) else {
            throw TestSetupError("scripts/sftp-server said: \(result.stdout)")
        }
        (self.url, self.port, hostKeySHA256, self.privateKey, self.root, self.pid) = (url, port, key, privateKey, root, pid)
        running = true
    }

    private var pid: Int32 = 0

    private func waitForPort() throws {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let probe = try runProcess(["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', \(port)), 0.2)"])
            if probe.status == 0 { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestSetupError("sshd does not accept connections on \(port)")
    }

    /// Stops sshd (the files stay, for a later `start()`).
    public func stop() { stop(removing: false) }

    private func stop(removing: Bool) {
        if running {
            kill(pid, SIGTERM)
            for _ in 0..<100 where kill(pid, 0) == 0 { Thread.sleep(forTimeInterval: 0.02) }
            running = false
        }
        if removing {
            if !root.isEmpty, root.hasPrefix("/srv/nightshift-sftp-"), root.hasSuffix("/chroot") {
                try? FileManager.default.removeItem(atPath: String(root.dropLast("/chroot".count)))
            }
            directory.remove()
        }
    }

    /// Sends `signal` to every process sshd runs for its connections (its descendants), not to sshd
    /// itself: SIGSTOP freezes the transfers under way, SIGKILL cuts them. Returns how many.
    @discardableResult
    public func signalSessions(_ signal: Int32) -> Int {
        var parents: [Int32: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let child = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 2, let parent = Int32(fields[1]) { parents[child] = parent }
        }
        var sessions = Set<Int32>()
        var grew = true
        while grew {
            grew = false
            for (child, parent) in parents where !sessions.contains(child) && (parent == pid || sessions.contains(parent)) {
                sessions.insert(child)
                grew = true
            }
        }
        for session in sessions { kill(session, signal) }
        return sessions.count
    }

    /// The files in the upload folder (hidden ones too), sorted.
    public func files() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: uploads)) ?? []).sorted()
    }
}
