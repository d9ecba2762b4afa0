import Foundation

/// The runner's clock: starts at `start` and runs `speed` times faster than real time, so that a
/// whole simulated night runs in seconds (`nightshift run --at T0 --speed 600 --until T1`).
/// Every instant the runner records or compares comes from here. Pure: real time is passed in.
public struct RunnerClock: Sendable {
    public let start: Date
    public let speed: Double
    public let realStart: Date
    private let realNow: @Sendable () -> Date

    public init(start: Date? = nil, speed: Double = 1, realNow: @escaping @Sendable () -> Date = { Date() }) {
        precondition(speed > 0, "speed must be positive")
        let real = realNow()
        self.start = start ?? real
        self.speed = speed
        self.realStart = real
        self.realNow = realNow
    }

    /// The runner's current instant.
    public func now() -> Date { instant(atReal: realNow()) }

    public func instant(atReal real: Date) -> Date {
        start.addingTimeInterval(real.timeIntervalSince(realStart) * speed)
    }

    /// How long to wait in real time for `seconds` of runner time to pass.
    public func realSeconds(forClockSeconds seconds: Double) -> Double { max(0, seconds / speed) }

    public var isSimulated: Bool { speed != 1 || abs(start.timeIntervalSince(realStart)) > 1 }
}
