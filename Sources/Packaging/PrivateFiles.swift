import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Files and folders the runner creates, and files it reads from folders others may write to:
/// fixed modes whatever the umask (folders 0750, files 0640), never a symbolic link followed, the
/// size of a file checked with `fstat` on the opened descriptor before a byte is read.
public enum PrivateFiles {
    public static let directoryMode: mode_t = 0o750
    public static let fileMode: mode_t = 0o640

    /// `mkdir -p` where every folder it creates gets `directoryMode` exactly; folders that exist
    /// are left as they are (a symbolic link among them is refused).
    public static func makeDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            var info = stat()
            if lstat(prefix, &info) == 0 {
                if (info.st_mode & S_IFMT) == S_IFDIR { continue }
                let what = (info.st_mode & S_IFMT) == S_IFLNK ? "a symbolic link" : "not a directory"
                throw FileSafetyError(path: prefix, problem: "is \(what)", fix: "make it a real directory (or remove it and let NightShift create it)")
            }
            guard mkdir(prefix, directoryMode) == 0 || errno == EEXIST else {
                throw FileSafetyError(path: prefix, problem: "cannot be created: \(String(cString: strerror(errno)))", fix: "check the parent folder's owner and permissions")
            }
            // mkdir's mode passes through the umask; chmod does not.
            guard chmod(prefix, directoryMode) == 0 else {
                throw FileSafetyError(path: prefix, problem: "cannot be given mode 0750: \(String(cString: strerror(errno)))", fix: "check its owner")
            }
        }
    }

    /// Refuses anything but a real directory owned by this process's user that no one else may
    /// write to: a folder an attacker can swap or write into could turn the runner against the host.
    public static func checkOwnDirectory(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw FileSafetyError(path: path, problem: "cannot be examined: \(String(cString: strerror(errno)))", fix: "create it, owned by the runner's account")
        }
        if (info.st_mode & S_IFMT) == S_IFLNK {
            throw FileSafetyError(path: path, problem: "is a symbolic link", fix: "replace it with a real directory owned by the runner's account (mode 0750)")
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw FileSafetyError(path: path, problem: "is not a directory", fix: "replace it with a directory owned by the runner's account (mode 0750)")
        }
        guard info.st_uid == geteuid() else {
            throw FileSafetyError(path: path, problem: "is owned by uid \(info.st_uid), not by the runner (uid \(geteuid()))",
                                  fix: "chown it to the runner's account")
        }
        guard info.st_mode & 0o022 == 0 else {
            throw FileSafetyError(path: path, problem: String(format: "may be written by others (mode %04o)", info.st_mode & 0o7777),
                                  fix: "chmod 0750 it")
        }
    }

    /// Writes `data` to `path` whole: a new file (never through a link) of `fileMode`, synced, then
    /// renamed over `path`.
    public static func write(_ data: Data, to path: String, mode: mode_t = fileMode) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = "\(directory)/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileSafetyError(path: temporary, problem: "cannot be created: \(String(cString: strerror(errno)))", fix: "check the folder") }
        var failure: Int32 = 0
        if fchmod(fd, mode) != 0 { failure = errno }
        data.withUnsafeBytes { bytes in
            var offset = 0
            while failure == 0, offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 { if errno != EINTR { failure = errno } } else { offset += n }
            }
        }
        if failure == 0, fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure == 0, rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw FileSafetyError(path: path, problem: "cannot be written: \(String(cString: strerror(failure)))", fix: "check the folder and the free space")
        }
    }

    /// Reads a regular file without following a symbolic link and without blocking on a FIFO; a
    /// file over `maxBytes` (by `fstat`, before reading) is refused unread.
    public static func readRegular(_ path: String, maxBytes: Int) throws -> Data {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let problem = errno == ELOOP ? "is a symbolic link" : "cannot be opened: \(String(cString: strerror(errno)))"
            throw FileSafetyError(path: path, problem: problem, fix: "write a regular file")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileSafetyError(path: path, problem: "cannot be examined", fix: "write a regular file") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw FileSafetyError(path: path, problem: "is not a regular file", fix: "write a regular file")
        }
        guard Int(info.st_size) <= maxBytes else {
            throw FileSafetyError(path: path, problem: "has \(info.st_size) bytes, more than \(maxBytes)", fix: "keep it under \(maxBytes) bytes",
                                  tooLarge: true)
        }
        var data = Data(count: Int(info.st_size) + 1)
        var total = 0
        let capacity = data.count
        let failure: Int32 = data.withUnsafeMutableBytes { buffer in
            while total < capacity {
                let n = read(fd, buffer.baseAddress! + total, capacity - total)
                if n < 0 { if errno == EINTR { continue }; return errno }
                if n == 0 { break }
                total += n
            }
            return 0
        }
        guard failure == 0 else { throw FileSafetyError(path: path, problem: "cannot be read: \(String(cString: strerror(failure)))", fix: "write a regular file") }
        guard total <= maxBytes else {
            throw FileSafetyError(path: path, problem: "grew past \(maxBytes) bytes while it was read", fix: "keep it under \(maxBytes) bytes",
                                  tooLarge: true)
        }
        return data.prefix(total)
    }
}

/// A file or folder that is not what the runner may safely use: what, where and how to fix it.
public struct FileSafetyError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public let fix: String
    /// A file refused for its size (read no further).
    public var tooLarge = false

    public init(path: String, problem: String, fix: String, tooLarge: Bool = false) {
        self.path = path
        self.problem = problem
        self.fix = fix
        self.tooLarge = tooLarge
    }

    public var description: String { "\(path) \(problem): \(fix)" }
}
