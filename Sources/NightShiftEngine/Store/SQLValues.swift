import Foundation
import NightShiftCore
import PostgresClient

// Core's values as bind parameters: states and kinds by their stored names, dates as ISO text.
// With these, a query says `state = ANY(\(JobState.queued))` instead of spelling the states out.

extension JobState: SQLValue { public var sqlText: String? { rawValue } }
extension BatchState: SQLValue { public var sqlText: String? { rawValue } }
extension RunnerState: SQLValue { public var sqlText: String? { rawValue } }
extension ReviewState: SQLValue { public var sqlText: String? { rawValue } }
extension MailState: SQLValue { public var sqlText: String? { rawValue } }
extension DeliveryState: SQLValue { public var sqlText: String? { rawValue } }
extension RequestState: SQLValue { public var sqlText: String? { rawValue } }
extension BatchKind: SQLValue { public var sqlText: String? { rawValue } }
extension JobKind: SQLValue { public var sqlText: String? { rawValue } }
extension FailureClass: SQLValue { public var sqlText: String? { rawValue } }
extension Priority: SQLValue { public var sqlText: String? { String(rawValue) } }
extension LocalDate: SQLValue { public var sqlText: String? { description } }
