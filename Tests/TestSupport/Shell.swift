import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The outcome of running a real program.
public struct ProcessOutput {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// A child process started with posix_spawn and reaped with waitpid. (Foundation's `Process`
/// can miss the exit of a child whose own children outlive it — `scripts/pg start` leaves the
/// PostgreSQL server running — and then `waitUntilExit` never returns.)
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private let lock = NSLock()
    private var exitStatus: Int32?

    /// Starts `arguments` (the program is looked up on PATH). `stdout`/`stderr` are file
    /// descriptors for the child (closed in the parent by the caller); nil means /dev/null.
    public init(_ arguments: [String], environment: [String: String] = [:], directory: String? = nil,
                stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil, closeInChild: [Int32] = []) throws {
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, source) in [(Int32(0), stdin), (Int32(1), stdout), (Int32(2), stderr)] {
            if let source {
                posix_spawn_file_actions_adddup2(&actions, source, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            }
        }
        for fd in closeInChild { posix_spawn_file_actions_addclose(&actions, fd) }
        // env(1) changes the directory (-C) and finds the program on PATH.
        let argv = ["/usr/bin/env"] + (directory.map { ["-C", $0] } ?? []) + arguments
        let envp = env.map { "\($0.key)=\($0.value)" }
        var child: pid_t = 0
        let status = withCStringArray(argv) { cArgv in
            withCStringArray(envp) { cEnvp in posix_spawn(&child, "/usr/bin/env", &actions, nil, cArgv, cEnvp) }
        }
        guard status == 0 else { throw TestSetupError("posix_spawn \(arguments.first ?? "") failed: \(String(cString: strerror(status)))") }
        pid = child
    }

    public func kill(_ signal: Int32) {
        if isRunning { Glibc.kill(pid, signal) }
    }

    /// Whether the child has not exited yet (reaps it when it has).
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { exitStatus = decode(status) }
        return exitStatus == nil
    }

    /// Waits for the exit; the exit code, or 128 + the signal that ended it. nil after `timeout`.
    public func wait(timeout: TimeInterval = .infinity) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning {
            if Date() >= deadline { return nil }
            Thread.sleep(forTimeInterval: 0.01)
        }
        lock.lock()
        defer { lock.unlock() }
        return exitStatus
    }

    private func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return body(&pointers)
}

/// Runs a program (found on PATH) to completion and captures its output.
@discardableResult
public func runProcess(_ arguments: [String], environment: [String: String] = [:],
                       directory: String? = nil, stdin: Data? = nil) throws -> ProcessOutput {
    var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
    guard pipe(&inPipe) == 0, pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
        throw TestSetupError("pipe failed: \(String(cString: strerror(errno)))")
    }
    // Only the child's 0, 1 and 2 (dup2'ed) survive exec; these originals do not.
    for fd in inPipe + outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    let child: ChildProcess
    do {
        child = try ChildProcess(arguments, environment: environment, directory: directory,
                                 stdin: inPipe[0], stdout: outPipe[1], stderr: errPipe[1])
    } catch {
        for fd in inPipe + outPipe + errPipe { close(fd) }
        throw error
    }
    close(inPipe[0])
    close(outPipe[1])
    close(errPipe[1])
    let input = FileHandle(fileDescriptor: inPipe[1], closeOnDealloc: true)
    if let stdin { input.write(stdin) }
    try input.close()
    // Read both pipes concurrently so a chatty program cannot block on a full pipe. Reading ends
    // when the program and everything it started have closed them.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    group.enter()
    let errHandle = FileHandle(fileDescriptor: errPipe[0], closeOnDealloc: true)
    DispatchQueue.global().async { errData = errHandle.readDataToEndOfFile(); group.leave() }
    let outData = FileHandle(fileDescriptor: outPipe[0], closeOnDealloc: true).readDataToEndOfFile()
    group.wait()
    let status = child.wait() ?? -1
    return ProcessOutput(status: status, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

/// A fresh directory under the system temp dir, removed by `remove()`.
public final class TemporaryDirectory {
    public let path: String

    public init(_ prefix: String = "nightshift-test") throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/\(prefix)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ name: String) -> String { "\(path)/\(name)" }
}
