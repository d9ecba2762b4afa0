import Foundation
import NightShiftCore
import XCTest

/// The one decision model, table by table, with the shipped windows (lunch peak never, business
/// hours avoid, month-end restricted, weekday and weekend nights optimal).
final class DispatchModelTests: XCTestCase {
    let model = DispatchModel(windows: defaultWindows(calendar: testCalendar()), policy: PriorityPolicy())
    let twoAM = at("2026-11-17T02:00:00+08:00") // a Tuesday night, optimal

    func job(_ id: Int, _ name: String, _ priority: Priority, due: Date? = nil, minutes: Int = 10, checkpointed: Bool = true,
             batch: Int = 1, locks: [String] = [], export: Bool = false) -> QueuedJob {
        QueuedJob(id: id, name: name, batchRun: batch, priority: priority, due: due ?? twoAM, seconds: minutes * 60,
                  checkpointed: checkpointed, locks: locks, writesExports: export)
    }

    func decide(_ queued: [QueuedJob], running: [ActiveJob] = [], free: Int, at now: Date? = nil, batches: [Int: Priority] = [1: .p3],
                resources: ResourceReading = .unmeasured) -> DispatchDecision {
        var queue = ReadyQueue(policy: PriorityPolicy(), jobs: queued)
        return model.decide(&queue, DispatchState(now: now ?? twoAM, running: running, freeSlots: free, noSlotAnywhere: free == 0,
                                                  activeBatches: batches, resources: resources))
    }

    func testStartsInPriorityThenDueOrderWhileSlotsAreFree() {
        let d = decide([job(1, "p4", .p4), job(2, "p3", .p3), job(3, "p2", .p2), job(4, "p3-earlier", .p3, due: twoAM.addingTimeInterval(-60))], free: 3)
        XCTAssertEqual(d.starts.map(\.name), ["p2", "p3-earlier", "p3"])
        XCTAssertTrue(d.waits.isEmpty && d.pauses.isEmpty)
    }

    func testAgingOrdersTheQueueButNeverTheWindow() {
        // A P4 job waiting for two hours competes as P3 and is due earlier: it goes first...
        let old = job(1, "old-p4", .p4, due: twoAM.addingTimeInterval(-7200))
        XCTAssertEqual(decide([job(2, "new-p3", .p3), old], free: 1).starts.map(\.name), ["old-p4"])
        // ...but aging never lets it start where P4 may not: at 09:00 on a workday (avoid) it waits.
        let nine = at("2026-11-17T09:00:00+08:00")
        let d = decide([job(1, "old-p4", .p4, due: at("2026-11-16T02:00:00+08:00"))], free: 1, at: nine)
        XCTAssertTrue(d.starts.isEmpty)
        XCTAssertEqual(d.waits.first?.obstacle, .window(until: at("2026-11-18T02:00:00+08:00")))
    }

    func testWindowsAreDecidedAtTheStartInstant() {
        // 11:40 on a workday is lunch peak: nothing starts, not even P1; it waits until 13:30.
        let lunch = at("2026-11-17T11:40:00+08:00")
        let d = decide([job(1, "critical", .p1)], free: 1, at: lunch)
        XCTAssertTrue(d.starts.isEmpty)
        XCTAssertEqual(d.waits.first?.obstacle, .window(until: at("2026-11-17T13:30:00+08:00")))
    }

    func testAJobThatCannotPauseDoesNotStartIntoANeverWindow() {
        let ten = at("2026-11-17T10:50:00+08:00")
        // 60 minutes from 10:50 reaches lunch peak at 11:30: a set-based P2 job waits until 13:30.
        let d = decide([job(1, "set-based", .p2, minutes: 60, checkpointed: false)], free: 1, at: ten)
        XCTAssertEqual(d.waits.first?.obstacle, .neverWindowAhead(until: at("2026-11-17T13:30:00+08:00")))
        XCTAssertTrue(d.waits.first!.reason.contains("cannot pause"), d.waits.first!.reason)
        // A checkpointed one starts (it will pause at 11:30), and a short set-based one fits before it.
        XCTAssertEqual(decide([job(1, "chunked", .p2, minutes: 60)], free: 1, at: ten).starts.map(\.name), ["chunked"])
        XCTAssertEqual(decide([job(1, "short", .p2, minutes: 30, checkpointed: false)], free: 1, at: ten).starts.map(\.name), ["short"])
    }

    func testRunningJobsPauseWhenTheirWindowStopsAllowingThem() {
        // 08:00 on a workday: business hours (avoid) let only P1/P2 run.
        let eight = at("2026-11-17T08:00:00+08:00")
        let p3 = ActiveJob(job: job(1, "chunked-p3", .p3), started: twoAM)
        let p2 = ActiveJob(job: job(2, "chunked-p2", .p2), started: twoAM)
        let setBased = ActiveJob(job: job(3, "set-p3", .p3, checkpointed: false), started: twoAM)
        let d = decide([], running: [p3, p2, setBased], free: 0, at: eight)
        XCTAssertEqual(d.pauses.map(\.job.job.name), ["chunked-p3"])
        XCTAssertEqual(d.pauses.first?.cause, .window)
        XCTAssertTrue(d.violations.isEmpty, "avoid is not never: the set-based job may finish")
        // Inside lunch peak the set-based job is a violation (it cannot pause).
        let lunch = decide([], running: [setBased], free: 1, at: at("2026-11-17T11:31:00+08:00"))
        XCTAssertEqual(lunch.violations.map(\.job.job.name), ["set-p3"])
    }

    func testP1PreemptsTheMostRecentP4ThenP3AtACheckpoint() {
        let p3 = ActiveJob(job: job(1, "p3", .p3), started: twoAM.addingTimeInterval(300))
        let p4Old = ActiveJob(job: job(2, "p4-old", .p4), started: twoAM)
        let p4New = ActiveJob(job: job(3, "p4-new", .p4), started: twoAM.addingTimeInterval(60))
        let p4SetBased = ActiveJob(job: job(4, "p4-set", .p4, checkpointed: false), started: twoAM.addingTimeInterval(600))
        let now = twoAM.addingTimeInterval(900)
        let d = decide([job(9, "urgent", .p1, due: now)], running: [p3, p4Old, p4New, p4SetBased], free: 0, at: now)
        XCTAssertEqual(d.pauses.map(\.job.job.name), ["p4-new"], "P4 before P3, most recent first, only what can pause")
        XCTAssertEqual(d.pauses.first?.cause, .preempted)
        XCTAssertTrue(d.pauses.first!.reason.contains("preempted by urgent (P1)"))
        // Asked once: while that pause is under way, the next pass does not pause another job.
        let again = decide([job(9, "urgent", .p1, due: now)],
                           running: [p3, p4Old, ActiveJob(job: p4New.job, started: p4New.started, pausing: true)], free: 0, at: now)
        XCTAssertTrue(again.pauses.isEmpty)
        // P2 does not preempt; nor does P1 when a slot is free anywhere.
        XCTAssertTrue(decide([job(9, "p2", .p2)], running: [p4Old], free: 0).pauses.isEmpty)
        var queue = ReadyQueue(policy: PriorityPolicy(), jobs: [job(9, "urgent", .p1)])
        let elsewhere = model.decide(&queue, DispatchState(now: now, running: [p4Old], freeSlots: 0, noSlotAnywhere: false, activeBatches: [1: .p3]))
        XCTAssertTrue(elsewhere.pauses.isEmpty)
    }

    func testLocksBatchesLoadAndDisk() {
        let holder = ActiveJob(job: job(1, "rebuild", .p3, locks: ["deliveries"]), started: twoAM)
        let locked = decide([job(2, "charges", .p3, locks: ["deliveries"]), job(3, "free", .p3)], running: [holder], free: 1)
        XCTAssertEqual(locked.starts.map(\.name), ["free"])
        XCTAssertEqual(locked.waits.first?.obstacle, .lock("deliveries", heldBy: "rebuild"))
        // Two in one decision: the first takes the lock.
        XCTAssertEqual(decide([job(2, "a", .p3, locks: ["t"]), job(3, "b", .p3, locks: ["t"])], free: 2).starts.map(\.name), ["a"])

        let third = decide([job(1, "monthly-job", .p3, batch: 3), job(2, "daily-job", .p3, batch: 1)], free: 2, batches: [1: .p3, 2: .p3])
        XCTAssertEqual(third.starts.map(\.name), ["daily-job"])
        XCTAssertEqual(third.waits.first?.obstacle, .batchLimit)

        let busy = ResourceReading(loadPerCore: 0.95, exportsFreeFraction: 0.1)
        let running = ActiveJob(job: job(5, "chunked-p4", .p4), started: twoAM)
        let loaded = decide([job(1, "p4", .p4), job(2, "export", .p3, export: true), job(3, "p3", .p3)], running: [running], free: 3,
                            resources: busy)
        XCTAssertEqual(loaded.starts.map(\.name), ["p3"])
        XCTAssertEqual(Set(loaded.waits.map(\.obstacle)), [.load, .disk])
        XCTAssertEqual(loaded.pauses.map(\.job.job.name), ["chunked-p4"])
        XCTAssertEqual(loaded.pauses.first?.cause, .load)
    }

    /// Only batch runs with work running or paused hold a place, and P1 is never held back by
    /// batches doing lower-priority work (issue: two deferred P3 requests held a P1 job all day).
    func testTheBatchLimitCountsWorkUnderWayAndNeverHoldsP1ForLowerWork() {
        // 10:00 on a workday: two P3 request batches (2, 3) wait for 18:00 and have nothing
        // running or paused, so they are not under way; the P1 event job of batch 4 starts.
        let ten = at("2026-11-17T10:00:00+08:00")
        let d = decide([job(1, "req-a", .p3, batch: 2), job(2, "req-b", .p3, batch: 3), job(3, "daily_sales_summary", .p1, batch: 4)],
                       free: 2, at: ten, batches: [:])
        XCTAssertEqual(d.starts.map(\.name), ["daily_sales_summary"])
        XCTAssertEqual(Set(d.waits.map(\.job.name)), ["req-a", "req-b"])
        XCTAssertTrue(d.waits.allSatisfy { if case .window = $0.obstacle { true } else { false } }, "\(d.waits.map(\.reason))")

        // Two batches doing P3/P4 work hold the limit: another P3 batch waits, a P1 job does not.
        let full: [Int: Priority] = [2: .p3, 3: .p4]
        let p3 = decide([job(1, "other-p3", .p3, batch: 5)], free: 1, batches: full)
        XCTAssertEqual(p3.waits.first?.obstacle, .batchLimit)
        let p1 = decide([job(1, "close", .p1, batch: 5)], free: 1, batches: full)
        XCTAssertEqual(p1.starts.map(\.name), ["close"])
        // Batches doing P1 work do hold a P1 job of another batch.
        let p1Full = decide([job(1, "close", .p1, batch: 5)], free: 1, batches: [2: .p1, 3: .p1])
        XCTAssertEqual(p1Full.waits.first?.obstacle, .batchLimit)
        // A P2 batch is lower than P1: it does not hold it either.
        XCTAssertEqual(decide([job(1, "close", .p1, batch: 5)], free: 1, batches: [2: .p1, 3: .p2]).starts.map(\.name), ["close"])
    }

    func testP2StartDeadline() {
        let d = decide([job(1, "summary", .p2, due: twoAM.addingTimeInterval(-7200))], free: 1)
        XCTAssertEqual(d.lateStarts.map(\.seconds), [3600])
        XCTAssertTrue(decide([job(1, "summary", .p2, due: twoAM.addingTimeInterval(-1800))], free: 1).lateStarts.isEmpty)
    }
}
