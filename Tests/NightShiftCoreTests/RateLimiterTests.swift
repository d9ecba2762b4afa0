import NightShiftCore
import XCTest

final class RateLimiterTests: XCTestCase {
    func testABurstIsAllowedThenCallsComeAtTheRate() {
        var limiter = RateLimiter(perMinute: 60, burst: 3)
        XCTAssertNil(limiter.take("a", now: 0))
        XCTAssertNil(limiter.take("a", now: 0))
        XCTAssertNil(limiter.take("a", now: 0))
        XCTAssertEqual(limiter.take("a", now: 0), 1, "the fourth call at once waits a second")
        XCTAssertEqual(limiter.take("a", now: 0.5), 1)
        XCTAssertNil(limiter.take("a", now: 1.01), "one call a second refills")
        XCTAssertNotNil(limiter.take("a", now: 1.02))
        XCTAssertNil(limiter.take("b", now: 1.02), "each caller has its own bucket")
    }

    func testRefusedCallsDoNotBuyTime() {
        var limiter = RateLimiter(perMinute: 6, burst: 1)
        XCTAssertNil(limiter.take("a", now: 0))
        // A caller hammering every second never gets more than one call per ten seconds.
        var allowed = 0
        for second in 1...100 where limiter.take("a", now: Double(second)) == nil { allowed += 1 }
        XCTAssertEqual(allowed, 10)
        XCTAssertEqual(limiter.take("a", now: 100.5), 10)
    }

    func testTheBurstNeverExceedsItsSizeAfterAQuietSpell() {
        var limiter = RateLimiter(perMinute: 600, burst: 5)
        var allowed = 0
        for _ in 0..<20 where limiter.take("a", now: 86400) == nil { allowed += 1 }
        XCTAssertEqual(allowed, 5)
    }

    func testMemoryStaysBoundedUnderAFloodOfCallers() {
        var limiter = RateLimiter(perMinute: 60, burst: 2, maxCallers: 1000)
        for i in 0..<50000 { _ = limiter.take("10.0.\(i / 256).\(i % 256)", now: Double(i) / 1000) }
        XCTAssertLessThanOrEqual(limiter.callers, 1001)
        // A caller seen a moment ago is still limited.
        _ = limiter.take("x", now: 50)
        _ = limiter.take("x", now: 50)
        XCTAssertNotNil(limiter.take("x", now: 50))
    }
}
