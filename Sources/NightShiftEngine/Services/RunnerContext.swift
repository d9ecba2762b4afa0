import Foundation
import NightShiftCore
import Logging
import NightShiftConfig
import PostgresClient

/// What every runner service shares: configuration, the database, the clock, who we are.
final class RunnerContext: @unchecked Sendable {
    let configuration: Configuration
    let connect: () throws -> PostgresConnection
    let clock: RunnerClock
    let identity: RunnerIdentity
    let logger: Logger
    /// Rows the services could not read: logged once, left alone.
    let unreadable: UnreadableRows
    var settings: ServiceSettings { configuration.settings.service }
    var zone: TimeZone { configuration.settings.timeZone }

    init(configuration: Configuration, connect: @escaping () throws -> PostgresConnection, clock: RunnerClock,
         identity: RunnerIdentity, logger: Logger) {
        self.configuration = configuration
        self.connect = connect
        self.clock = clock
        self.identity = identity
        self.logger = logger
        unreadable = UnreadableRows(logger: logger)
    }
}
