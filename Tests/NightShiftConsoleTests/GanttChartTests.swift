import Foundation
@testable import NightShiftConsole
import NightShiftCore
import XCTest

/// The Gantt chart's SVG: one group per job with its state, bars where the times say, the
/// critical path marked, and text that cannot break out of the markup.
final class GanttChartTests: XCTestCase {
    let zone = TimeZone(identifier: "Asia/Taipei")!
    let twoAM = ISO8601DateFormatter().date(from: "2026-11-23T02:00:00+08:00")!
    func minutes(_ m: Double) -> Date { twoAM.addingTimeInterval(m * 60) }

    func testOneGroupPerJobWithItsStateAndBarsInPlace() throws {
        let chart = GanttChart(
            groups: [GanttChart.Group(title: "daily 2026-11-22 <run #1>", link: "/batch-runs/1", rows: [
                GanttChart.Row(batchRunID: 1, job: "a", jobRunID: 10, state: "succeeded", critical: true,
                               bars: [.init(start: minutes(0), end: minutes(30), forecast: false)], tooltip: "a", badge: nil),
                GanttChart.Row(batchRunID: 1, job: "b\"><script>", jobRunID: 11, state: "running", critical: false,
                               bars: [.init(start: minutes(30), end: minutes(45), forecast: false), .init(start: minutes(45), end: minutes(60), forecast: true)],
                               tooltip: "b & c", badge: "×2"),
            ])],
            lines: [.init(at: minutes(45), label: "now 02:45", kind: "now")], bands: [], from: twoAM, to: minutes(60), zone: zone)
        let svg = chart.svg()
        XCTAssertEqual(svg.components(separatedBy: #"<g class="job""#).count - 1, 2)
        XCTAssertTrue(svg.contains(#"data-job="a" data-state="succeeded" data-critical="true""#), svg)
        XCTAssertFalse(svg.contains("<script>"), "names are escaped")
        XCTAssertTrue(svg.contains("data-job=\"b&quot;&gt;&lt;script&gt;\""))
        // 900 px for the hour: a's bar from x=230 to 680, b's forecast from 905 to 1130.
        XCTAssertTrue(svg.contains(#"class="ran state-succeeded critical" x="230.0""#) && svg.contains(#"width="450.0""#), svg)
        XCTAssertTrue(svg.contains(#"class="forecast state-running" x="905.0""#), svg)
        XCTAssertTrue(svg.contains(#"<line class="marker now" x1="905.0""#), svg)
        XCTAssertTrue(svg.contains(">02:30</text>"), "a tick every half hour")
    }

    func testTheRangeCoversEveryInstantRoundedToTheQuarterHour() {
        let (from, to) = GanttChart.range(of: [minutes(7), minutes(100)])
        XCTAssertEqual(from, twoAM)
        XCTAssertEqual(to, minutes(105))
        let (_, short) = GanttChart.range(of: [minutes(1), minutes(2)])
        XCTAssertEqual(short, minutes(60), "at least an hour")
    }
}
