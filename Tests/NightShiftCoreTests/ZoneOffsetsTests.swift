import Foundation
import XCTest
@testable import NightShiftCore

final class ZoneOffsetsTests: XCTestCase {
    /// Zones with no DST, ordinary DST, a 30-minute DST shift, a 45-minute offset, southern-hemisphere
    /// DST and a zone that changed its standard offset (Pyongyang 2015 and 2018).
    let zones = ["Asia/Taipei", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Santiago",
                 "Asia/Pyongyang", "Europe/London", "UTC"]

    func testOffsetsAgreeWithTheZoneEveryFifteenMinutesOf2014To2019AndEveryHourTo2030() throws {
        for name in zones {
            let zone = try XCTUnwrap(TimeZone(identifier: name))
            let offsets = ZoneOffsets(zone)
            var t = Date(timeIntervalSince1970: 1_388_534_400) // 2014-01-01
            let fine = Date(timeIntervalSince1970: 1_577_836_800) // 2020-01-01
            let end = Date(timeIntervalSince1970: 1_893_456_000) // 2030-01-01
            var mismatches = 0
            while t < end {
                if offsets.secondsFromGMT(for: t) != zone.secondsFromGMT(for: t) { mismatches += 1 }
                t.addTimeInterval(t < fine ? 900 : 3600)
            }
            XCTAssertEqual(mismatches, 0, name)
        }
    }

    func testEveryTransitionInstantAndTheSecondBeforeIt() throws {
        for name in zones {
            let zone = try XCTUnwrap(TimeZone(identifier: name))
            let offsets = ZoneOffsets(zone)
            var t = Date(timeIntervalSince1970: 0)
            while let next = zone.nextDaylightSavingTimeTransition(after: t), next.timeIntervalSince1970 < 4_102_444_800 {
                for probe in [next.addingTimeInterval(-1), next, next.addingTimeInterval(1)] {
                    XCTAssertEqual(offsets.secondsFromGMT(for: probe), zone.secondsFromGMT(for: probe), "\(name) \(probe)")
                }
                t = next
            }
        }
    }

    func testWallClockInstantsMatchTheZoneIncludingGapsAndOverlaps() throws {
        let zone = try XCTUnwrap(TimeZone(identifier: "America/New_York"))
        let offsets = ZoneOffsets(zone)
        // Spring forward 2026-03-08 02:30 (a gap) and fall back 2026-11-01 01:30 (twice).
        for (day, minute) in [(LocalDate(year: 2026, month: 3, day: 8), 150), (LocalDate(year: 2026, month: 11, day: 1), 90),
                              (LocalDate(year: 2026, month: 7, day: 1), 0), (LocalDate(year: 1969, month: 7, day: 1), 600),
                              (LocalDate(year: 2101, month: 1, day: 1), 600)] {
            let local = LocalDateTime(date: day, minute: minute)
            XCTAssertEqual(offsets.instant(of: local), zone.instant(of: local), "\(local)")
        }
    }

    func testOutsideTheTableTheZoneIsAsked() throws {
        let zone = try XCTUnwrap(TimeZone(identifier: "America/New_York"))
        let offsets = ZoneOffsets(zone)
        for t in [Date(timeIntervalSince1970: -86_400 * 200), Date(timeIntervalSince1970: 4_102_444_800 + 86_400 * 180)] {
            XCTAssertEqual(offsets.secondsFromGMT(for: t), zone.secondsFromGMT(for: t))
        }
    }
}
