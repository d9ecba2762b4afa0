import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// inotify on one directory: which names were closed after writing, or renamed into it. The only
/// owner of its descriptor (closed on `close()` or deinit). Where inotify is not available (some
/// network file systems, a container without it), `init` fails and the inbox is polled.
final class InboxNotifier: @unchecked Sendable {
    private var descriptor: Int32
    private let path: String

    /// A name seen in an event: `renamedIn` when it arrived by rename (complete by construction).
    struct Change: Equatable {
        let name: String
        let renamedIn: Bool
    }

    init(watching path: String) throws {
        self.path = path
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { throw InboxError(path: path, operation: "inotify_init1", code: errno) }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)
        guard inotify_add_watch(descriptor, path, mask) >= 0 else {
            let code = errno
            Glibc.close(descriptor)
            descriptor = -1
            throw InboxError(path: path, operation: "inotify_add_watch", code: code)
        }
    }

    deinit { close() }

    func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }

    /// The descriptor to wait on (readable when changes arrived); -1 once closed.
    var waitDescriptor: Int32 { descriptor }

    /// The changes that arrived (never blocks).
    func changes() -> [Change] {
        guard descriptor >= 0 else { return [] }
        var found: [Change] = []
        let size = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let count = read(descriptor, buffer, size)
            if count <= 0 { break } // EAGAIN: nothing more
            var offset = 0
            let header = MemoryLayout<inotify_event>.size
            while offset + header <= count {
                let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                let nameLength = Int(event.len)
                if nameLength > 0 {
                    let name = String(cString: buffer.advanced(by: offset + header).assumingMemoryBound(to: CChar.self))
                    found.append(Change(name: name, renamedIn: event.mask & UInt32(IN_MOVED_TO) != 0))
                }
                offset += header + nameLength
            }
        }
        return found
    }
}

/// A file-system call on the inbox failed: the call, the errno and the path.
struct InboxError: Error, CustomStringConvertible {
    let path: String
    let operation: String
    let code: Int32
    var description: String { "\(operation) on \(path) failed: \(String(cString: strerror(code))) (errno \(code))" }
}
