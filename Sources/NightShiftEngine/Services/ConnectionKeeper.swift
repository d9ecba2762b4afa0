import Foundation
import PostgresClient

/// One service's database connection: opened when first needed, dropped when it broke, opened
/// again on the next use. Services never exit on a lost connection; their loop backs off and
/// the next pass reconnects.
final class ConnectionKeeper: @unchecked Sendable {
    private let connect: () throws -> PostgresConnection
    private var connection: PostgresConnection?

    init(connect: @escaping () throws -> PostgresConnection) { self.connect = connect }

    /// Runs `body` on the connection; a failure that left the connection unusable closes it.
    func use<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let db: PostgresConnection
        if let connection, connection.isOpen {
            db = connection
        } else {
            connection?.close()
            connection = nil
            db = try connect()
            connection = db
        }
        do {
            return try body(db)
        } catch {
            if !db.isOpen || (error as? PostgresError)?.isTransient == true {
                db.close()
                connection = nil
            }
            throw error
        }
    }

    func close() {
        connection?.close()
        connection = nil
    }
}
