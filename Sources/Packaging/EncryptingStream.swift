import Foundation

/// OpenPGP encryption for a writer that pushes its bytes as it produces them (a report written row
/// by row), where gpgme pulls: gpgme runs on a thread of its own and takes the plaintext from a
/// bounded buffer, so the plaintext never touches disk and memory stays flat (at most `capacity`
/// bytes wait). Ciphertext goes to `sink` on that thread; `close()` returns only once all of it
/// has been written, and rethrows whatever stopped the encryption.
///
/// One stream uses its `protection`'s gpgme context alone until `close()` or `abandon()` returns.
public final class EncryptingStream: @unchecked Sendable {
    private let lock = NSCondition()
    private var pending: [UInt8] = []
    private var readIndex = 0
    private var ended = false
    private var cancelled = false
    private var failure: Error?
    private var done = false
    private let capacity: Int
    private let literalName: String

    /// Starts the encryption thread. `literalName` is the file name recorded inside the message.
    public init(protection: ArchiveProtection, literalName: String, capacity: Int = 1 << 20,
                sink: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void) {
        self.capacity = capacity
        self.literalName = literalName
        pending.reserveCapacity(capacity)
        // Handed over: only the thread uses the context from here on.
        nonisolated(unsafe) let protection = protection
        let thread = Thread { [self] in
            var error: Error?
            do {
                try protection.pgp.encrypt(to: protection.recipients, signedBy: protection.signer, literalFileName: literalName,
                                           read: { [self] buffer in try take(into: buffer) }, write: sink)
            } catch let thrown { error = thrown }
            lock.lock()
            if let error, failure == nil { failure = error }
            done = true
            lock.broadcast()
            lock.unlock()
        }
        thread.name = "nightshift-encrypt"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Waits until the encryption thread has ended (it always does: `abandon` and `close` make sure).
    deinit { abandon() }

    /// Hands plaintext over; blocks while the buffer is full. Throws if the encryption has failed.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        lock.lock()
        defer { lock.unlock() }
        while offset < bytes.count {
            while pending.count - readIndex >= capacity && failure == nil && !done { lock.wait() }
            if let failure { throw failure }
            guard !done, !ended else { throw EncryptionStopped(literalName: literalName) }
            if readIndex > 0 && readIndex >= pending.count / 2 {  // keep the array at most about twice the capacity
                pending.removeFirst(readIndex)
                readIndex = 0
            }
            let count = min(bytes.count - offset, max(capacity - (pending.count - readIndex), 1))
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)]))
            offset += count
            lock.broadcast()
        }
    }

    /// Ends the plaintext and waits for the last ciphertext to be written.
    public func close() throws {
        lock.lock()
        defer { lock.unlock() }
        ended = true
        lock.broadcast()
        while !done { lock.wait() }
        if let failure { throw failure }
    }

    /// Stops the encryption (what was written is to be discarded) and waits for the thread. Idempotent.
    public func abandon() {
        lock.lock()
        defer { lock.unlock() }
        if !done {
            cancelled = true
            lock.broadcast()
            while !done { lock.wait() }
        }
    }

    /// gpgme's read: waits for plaintext, 0 at the end.
    private func take(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        lock.lock()
        defer { lock.unlock() }
        while readIndex == pending.count && !ended && !cancelled { lock.wait() }
        if cancelled { throw EncryptionStopped(literalName: literalName) }
        let count = min(buffer.count, pending.count - readIndex)
        guard count > 0 else { return 0 }
        pending.withUnsafeBytes { bytes in
            buffer.baseAddress!.copyMemory(from: bytes.baseAddress! + readIndex, byteCount: count)
        }
        readIndex += count
        lock.broadcast()
        return count
    }
}
