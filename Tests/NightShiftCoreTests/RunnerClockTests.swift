import Foundation
import NightShiftCore
import XCTest

final class RunnerClockTests: XCTestCase {
    /// Real time as a test controls it.
    final class FakeRealTime: @unchecked Sendable {
        var now = Date(timeIntervalSince1970: 1_000_000)
    }

    func testTheClockStartsAtT0AndRunsSpeedTimesRealTime() {
        let real = FakeRealTime()
        let t0 = at("2026-11-23T01:59:00+08:00")
        let clock = RunnerClock(start: t0, speed: 600, realNow: { real.now })
        XCTAssertEqual(clock.now(), t0)
        real.now += 0.1
        XCTAssertEqual(clock.now().timeIntervalSince(t0), 60, accuracy: 1e-3, "0.1 s of real time is a minute at 600x")
        real.now += 30
        XCTAssertEqual(clock.now().timeIntervalSince(t0), 30.1 * 600, accuracy: 1e-3)
        XCTAssertEqual(clock.realSeconds(forClockSeconds: 600), 1, accuracy: 1e-9)
        XCTAssertTrue(clock.isSimulated)
    }

    func testWithoutAStartItIsTheRealClock() {
        let real = FakeRealTime()
        let clock = RunnerClock(realNow: { real.now })
        XCTAssertEqual(clock.now(), real.now)
        real.now += 5
        XCTAssertEqual(clock.now(), real.now)
        XCTAssertFalse(clock.isSimulated)
    }
}

final class ISO8601Tests: XCTestCase {
    /// The hand-written RFC 3339 formatting agrees with Foundation's formatter.
    func testAgreesWithISO8601DateFormatter() {
        for zoneName in ["Asia/Taipei", "UTC", "America/New_York", "Asia/Kolkata", "Europe/London"] {
            let zone = TimeZone(identifier: zoneName)!
            let formatter = ISO8601DateFormatter()
            formatter.timeZone = zone
            formatter.formatOptions = [.withInternetDateTime]
            for _ in 0..<500 {
                let date = Date(timeIntervalSince1970: Double.random(in: -2e9...4e9))
                XCTAssertEqual(date.iso8601(in: zone), formatter.string(from: date), "\(zoneName) \(date.timeIntervalSince1970)")
            }
        }
    }
}
