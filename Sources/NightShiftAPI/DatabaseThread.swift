import Foundation
import NightShiftEngine
import PostgresClient

/// One thread of its own that owns one database connection and runs a server's queries on it, one
/// at a time (libpq blocks: never on Swift's cooperative pool). Reconnects after a failure.
public final class DatabaseThread: @unchecked Sendable {
    private let connect: @Sendable () throws -> PostgresConnection
    private let condition = NSCondition()
    private var work: [(PostgresConnection?) -> Void] = []
    private var closed = false
    private var connection: PostgresConnection?

    public init(connect: @escaping @Sendable () throws -> PostgresConnection, name: String = "nightshift-api-db") {
        self.connect = connect
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.start()
    }

    public func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async -> Result<T, Error> {
        await withCheckedContinuation { continuation in
            enqueue { [self] _ in
                do {
                    if connection == nil || connection?.isOpen == false {
                        connection?.close()
                        connection = try connect()
                    }
                    continuation.resume(returning: .success(try body(connection!)))
                } catch {
                    if connection?.isOpen != true || (error as? PostgresError)?.isTransient == true {
                        connection?.close()
                        connection = nil
                    }
                    continuation.resume(returning: .failure(error))
                }
            }
        }
    }

    private func enqueue(_ item: @escaping (PostgresConnection?) -> Void) {
        condition.lock()
        if closed {
            condition.unlock()
            item(nil)
            return
        }
        work.append(item)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while work.isEmpty && !closed { condition.wait() }
            if work.isEmpty && closed {
                condition.unlock()
                break
            }
            let item = work.removeFirst()
            condition.unlock()
            item(connection)
        }
        connection?.close()
        connection = nil
    }

    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}
