import Foundation

/// Reads a configuration or SQL file as text, refusing what is not one: a missing path, a
/// directory or a device (reading a FIFO would hang), a file over the size limit, an unreadable
/// file, or bytes that are not UTF-8 (with the line of the first bad byte).
enum ConfigText {
    /// Configuration and SQL files are small; anything larger is a mistake (a dump, a log).
    static let maximumBytes = 1 << 20

    struct Failure: Error, Equatable {
        static let missing = "does not exist"
        let problem: String
        let fix: String
        var line: Int? = nil
    }

    static func read(_ path: String, maximumBytes: Int = ConfigText.maximumBytes) -> Result<String, Failure> {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            return .failure(Failure(problem: Failure.missing, fix: "create it or correct the path"))
        }
        let type = attributes[.type] as? FileAttributeType
        if type == .typeDirectory {
            return .failure(Failure(problem: "is a directory, not a file", fix: "point to a file, or remove the directory"))
        }
        guard type == .typeRegular else {
            return .failure(Failure(problem: "is not a regular file (\(type?.rawValue ?? "unknown type"))",
                                    fix: "replace it with a regular text file"))
        }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        if size > maximumBytes {
            return .failure(Failure(problem: "is \(size) bytes; files here are at most \(maximumBytes) bytes (1 MiB)",
                                    fix: "this is not a configuration file: check the path, or split it"))
        }
        guard access(path, R_OK) == 0, let data = FileManager.default.contents(atPath: path) else {
            return .failure(Failure(problem: "cannot be read (permission denied or an I/O error)",
                                    fix: "make it readable by the user running nightshift (chmod/chown)"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            let (offset, line) = firstInvalidUTF8(data)
            return .failure(Failure(problem: "is not UTF-8 text (invalid byte at offset \(offset))",
                                    fix: "save it as UTF-8 (e.g. iconv -f BIG5 -t UTF-8)", line: line))
        }
        return .success(text)
    }

    /// The absolute path of `relative` inside `directory`, refusing a path that leaves it: an
    /// absolute path, a `..` step, or a symbolic link that resolves outside.
    static func inside(_ directory: String, _ relative: String) -> Result<String, Failure> {
        let fix = "give a path relative to the directory, without `..` (e.g. jobs/NAME.sql), and keep the file inside it"
        if relative.hasPrefix("/") || relative.split(separator: "/").contains("..") || relative.isEmpty {
            return .failure(Failure(problem: "`\(relative)` leaves \(directory)", fix: fix))
        }
        let full = "\(directory)/\(relative)"
        let base = resolved(directory)
        let real = resolved(full)
        guard real.hasPrefix(base + "/") else {
            return .failure(Failure(problem: "`\(relative)` resolves (through a symbolic link) to \(real), outside \(directory)", fix: fix))
        }
        return .success(full)
    }

    /// `path` with every symbolic link resolved, also when its last parts do not exist yet (a file
    /// the runner will create): the longest existing prefix is resolved and the rest appended.
    /// A dangling link is followed to where it points.
    private static func resolved(_ path: String, depth: Int = 0) -> String {
        var existing = URL(fileURLWithPath: path).standardized
        var rest: [String] = []
        while existing.path != "/" && !FileManager.default.fileExists(atPath: existing.path) {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: existing.path), depth < 40 {
                let absolute = target.hasPrefix("/") ? target : existing.deletingLastPathComponent().path + "/" + target
                return resolved(([absolute] + rest).joined(separator: "/"), depth: depth + 1)
            }
            rest.insert(existing.lastPathComponent, at: 0)
            existing.deleteLastPathComponent()
        }
        var real = existing.resolvingSymlinksInPath()
        for part in rest { real.appendPathComponent(part) }
        return real.path
    }

    /// The offset and line (1-based) of the first byte that breaks UTF-8.
    static func firstInvalidUTF8(_ data: Data) -> (offset: Int, line: Int) {
        let bytes = [UInt8](data)
        var index = 0
        var line = 1
        while index < bytes.count {
            let byte = bytes[index]
            let length: Int
            switch byte {
            case 0x00...0x7F: length = 1
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: return (index, line)
            }
            if index + length > bytes.count { return (index, line) }
            for next in bytes[(index + 1)..<(index + length)] where next & 0xC0 != 0x80 { return (index, line) }
            if String(bytes: bytes[index..<(index + length)], encoding: .utf8) == nil { return (index, line) }
            if byte == 0x0A { line += 1 }
            index += length
        }
        return (bytes.count, line)
    }
}
