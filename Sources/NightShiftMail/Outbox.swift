import Foundation

/// A directory of `.eml` files waiting to be sent (or read). Files appear atomically: they are
/// written under a temporary name and renamed when complete.
public struct Outbox: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// Writes `message` as `<directory>/<name>.eml` and returns the path and the bytes written.
    public func store(_ message: MailMessage, name: String) throws -> (path: String, data: Data) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(name).eml"
        let data = Data(message.rendered().utf8)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        return (path, data)
    }
}
