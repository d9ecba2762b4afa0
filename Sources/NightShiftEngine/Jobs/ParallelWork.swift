import Foundation

/// A fixed set of threads doing the same CPU-bound work on items handed in one at a time, with
/// at most `capacity` items waiting (so a fast producer blocks instead of filling memory). Each
/// thread builds its own worker state first (a gpgme context is not shared between threads).
///
/// Results come back in submission order. The first failure stops the pool: waiting items are
/// dropped, `submit` and `finish` rethrow it. Threads, not the cooperative pool: the work blocks
/// (compression, a gpg child process, file writes).
final class ParallelWork<Input, Output>: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [(index: Int, input: Input)] = []
    private var results: [Int: Output] = [:]
    private var submitted = 0
    private var closed = false
    private var failure: Error?
    private var running: Int
    private let capacity: Int

    /// - Parameters:
    ///   - threads: how many threads work at once.
    ///   - capacity: items handed in and not yet taken by a thread (at least 1).
    ///   - makeWorker: called once on each thread; returns what that thread does with an item.
    init(threads: Int, capacity: Int, name: String, makeWorker: @escaping @Sendable () throws -> (Input) throws -> Output) {
        self.capacity = max(1, capacity)
        running = max(1, threads)
        for number in 1...running {
            let thread = Thread { [self] in work(makeWorker) }
            thread.name = "\(name)-\(number)"
            thread.start()
        }
    }

    /// Hands in the next item; blocks while `capacity` items wait. Throws the pool's first failure.
    func submit(_ input: Input) throws {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= capacity && failure == nil { condition.wait() }
        if let failure { throw failure }
        queue.append((submitted, input))
        submitted += 1
        condition.broadcast()
    }

    /// No more items: waits for every thread to end and returns the outputs in submission order.
    func finish() throws -> [Output] {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        if let failure { throw failure }
        return (0..<submitted).map { results[$0]! }
    }

    /// Stops after the items being worked on (used when the producer fails); waits for the threads.
    func cancel(_ error: Error) {
        condition.lock()
        defer { condition.unlock() }
        if failure == nil { failure = error }
        closed = true
        queue.removeAll()
        condition.broadcast()
        while running > 0 { condition.wait() }
    }

    private func work(_ makeWorker: () throws -> (Input) throws -> Output) {
        var worker: ((Input) throws -> Output)?
        do { worker = try makeWorker() } catch { fail(error) }
        while let worker {
            condition.lock()
            while queue.isEmpty && !closed && failure == nil { condition.wait() }
            if queue.isEmpty || failure != nil {
                condition.unlock()
                break
            }
            let item = queue.removeFirst()
            condition.broadcast()
            condition.unlock()
            do {
                let output = try worker(item.input)
                condition.lock()
                results[item.index] = output
                condition.unlock()
            } catch {
                fail(error)
                break
            }
        }
        condition.lock()
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    private func fail(_ error: Error) {
        condition.lock()
        if failure == nil { failure = error }
        queue.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
