import Foundation
import Packaging

/// A directory of `.eml` files waiting to be sent (or read). Files appear atomically: they are
/// written under a temporary name and renamed when complete; the folder is 0750 and the files
/// 0640 whatever the umask (mail may hold customer names).
public struct Outbox: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// Writes `message` as `<directory>/<name>.eml` and returns the path and the bytes written.
    public func store(_ message: MailMessage, name: String) throws -> (path: String, data: Data) {
        try PrivateFiles.makeDirectory(directory)
        let path = "\(directory)/\(name).eml"
        let data = Data(message.rendered().utf8)
        try PrivateFiles.write(data, to: path)
        return (path, data)
    }
}
