import Foundation
import NightShiftConfig
import Packaging

/// The API keys of the key file, re-read when the file changes (adding a key needs no restart).
/// A presented key is hashed (SHA-256) and compared with every stored hash in constant time.
final class APIKeyring: @unchecked Sendable {
    private let path: String
    private let lock = NSLock()
    private var keys: [APIKey] = []
    private var loadedStamp: Date?

    init(path: String) { self.path = path }

    func key(presented: String?) -> APIKey? {
        guard let presented, !presented.isEmpty, presented.utf8.count <= 256 else { return nil }
        let hash = SHA256()
        hash.update(Array(presented.utf8))
        guard let hex = try? hash.finalize() else { return nil } // no digest: nobody is let in
        let digest = Array(hex.utf8)
        var found: APIKey?
        for key in current() where APIKeyring.equal(Array(key.sha256.utf8), digest) { found = key }
        return found
    }

    private func current() -> [APIKey] {
        lock.lock()
        defer { lock.unlock() }
        let stamp = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate]) as? Date
        if stamp != loadedStamp {
            keys = APIKeysFile.read(path: path).keys // a broken file gives no keys: every call is 401
            loadedStamp = stamp
        }
        return keys
    }

    /// Compares every byte whatever differs first.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
