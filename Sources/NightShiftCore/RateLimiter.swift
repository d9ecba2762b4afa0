/// A token bucket per caller (an API key, an address): up to `burst` calls at once, refilled at
/// `perMinute` calls a minute (by default, half a minute's calls at once). Pure: the caller passes the time (seconds on any monotonic clock).
///
/// Memory stays bounded: once more than `maxCallers` buckets are kept, the full ones (callers
/// quiet long enough to have refilled) are forgotten; a full bucket is the same as none.
public struct RateLimiter: Sendable {
    public let perMinute: Int
    public let burst: Int
    public let maxCallers: Int
    private var buckets: [String: Bucket] = [:]

    private struct Bucket {
        var tokens: Double
        var at: Double
    }

    public init(perMinute: Int, burst: Int? = nil, maxCallers: Int = 10000) {
        precondition(perMinute > 0, "a rate limit allows at least one call a minute")
        self.perMinute = perMinute
        self.burst = max(1, burst ?? perMinute / 2)
        self.maxCallers = maxCallers
    }

    /// Takes one call from `caller`'s bucket: nil when allowed, else the whole seconds until one
    /// call is allowed again (for `Retry-After`).
    public mutating func take(_ caller: String, now: Double) -> Int? {
        var bucket = buckets[caller] ?? Bucket(tokens: Double(burst), at: now)
        bucket.tokens = min(Double(burst), bucket.tokens + max(0, now - bucket.at) * Double(perMinute) / 60)
        guard bucket.tokens >= 1 else {
            // The bucket is left as it was: a refused call changes nothing.
            return max(1, Int(((1 - bucket.tokens) * 60 / Double(perMinute)).rounded(.up)))
        }
        bucket.tokens -= 1
        bucket.at = now
        buckets[caller] = bucket
        if buckets.count > maxCallers { forgetFull(now: now) }
        return nil
    }

    /// How many callers are remembered (for tests: memory stays bounded).
    public var callers: Int { buckets.count }

    private mutating func forgetFull(now: Double) {
        let burst = Double(self.burst), perMinute = Double(self.perMinute)
        buckets = buckets.filter { $0.value.tokens + max(0, now - $0.value.at) * perMinute / 60 < burst }
        // Under a flood of new callers every bucket may still be refilling: keep the newest half.
        if buckets.count > maxCallers {
            let kept = buckets.sorted { $0.value.at > $1.value.at }.prefix(maxCallers / 2)
            buckets = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
        }
    }
}
