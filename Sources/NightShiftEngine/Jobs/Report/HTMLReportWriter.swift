import Foundation
import Mustache
import NightShiftCore

/// An HTML report for people to read: a Mustache template (in templates/) rendered in three
/// kinds of pieces as the rows arrive, so memory holds one group at most:
///
/// - `{{#header}}…{{/header}}` once first: `title`, `job`, `business_date`, `columns`;
/// - `{{#group}}…{{/group}}` once per group (consecutive rows with the same `group_by` value; the
///   query orders by it): `key`, `rows` (each row's columns by name, and `cells` in order), `first`,
///   `count`, `totals` (each `totals` column summed exactly);
/// - `{{#footer}}…{{/footer}}` once last: `rows`, `groups`, `totals` (grand totals).
///
/// Values are escaped by `{{…}}`. A group of more than `max_group_rows` rows is an error: such a
/// report is for a CSV, not for reading.
final class HTMLReportWriter: ReportWriter {
    private let files: ReportFileSeries
    private let template: MustacheTemplate
    private let groupBy: String?
    private let totals: [String]
    private let maxGroupRows: Int
    private let name: String
    private let header: [String: Any]
    private var columns: [String] = []
    private var groupPosition: Int?
    private var totalPositions: [Int] = []
    private var currentKey: String?
    private var seenKeys: Set<String> = []
    private var rows: [[String: Any]] = []
    private var groupTotals: [DecimalSum] = []
    private var grandTotals: [DecimalSum] = []
    private var rowCount = 0
    private var groupCount = 0

    init(files: ReportFileSeries, templatePath: String, groupBy: String?, totals: [String], maxGroupRows: Int, name: String,
         header: [String: Any]) throws {
        self.files = files
        let text: String
        do { text = try String(contentsOfFile: templatePath, encoding: .utf8) } catch {
            throw ReportDataError(output: name, row: 0, column: "(template)", problem: "cannot read \(templatePath): \(error.localizedDescription)",
                                  fix: "write the template there or correct `template:`")
        }
        do { template = try MustacheTemplate(string: text) } catch {
            throw ReportDataError(output: name, row: 0, column: "(template)", problem: "\(templatePath) is not a valid Mustache template: \(error)",
                                  fix: "correct the template")
        }
        self.groupBy = groupBy
        self.totals = totals
        self.maxGroupRows = maxGroupRows
        self.name = name
        self.header = header
    }

    func begin(columns: [String], types _: [UInt32]) throws {
        self.columns = columns
        groupPosition = try groupBy.map { try Self.positions(of: [$0], in: columns, output: name, key: "group_by")[0] }
        totalPositions = try Self.positions(of: totals, in: columns, output: name, key: "totals")
        grandTotals = totals.map { _ in DecimalSum() }
        groupTotals = grandTotals
        try files.open()
        var context = header
        context["columns"] = columns
        try files.write(Array(template.render(["header": context]).utf8))
    }

    func write(_ values: [String?], number: Int) throws {
        let key = groupPosition.map { values[$0] ?? "" }
        if let key, key != currentKey, currentKey != nil || !rows.isEmpty {
            try flushGroup()
        }
        if let key, currentKey != key {
            guard !seenKeys.contains(key) else {
                throw ReportDataError(output: name, row: number, column: groupBy!, problem: "group `\(key)` comes back after other groups",
                                      fix: "order the query by \(groupBy!) (ORDER BY \(groupBy!), …)")
            }
            seenKeys.insert(key)
            currentKey = key
        }
        guard rows.count < maxGroupRows else {
            throw ReportDataError(output: name, row: number, column: groupBy ?? "(all rows)",
                                  problem: "the group has more than max_group_rows (\(maxGroupRows)) rows",
                                  fix: "group the report more finely (group_by), raise max_group_rows, or write the rows as CSV")
        }
        var row: [String: Any] = ["cells": values.map { $0 ?? "" }]
        for (column, value) in zip(columns, values) { row[column] = value ?? "" }
        rows.append(row)
        for (i, position) in totalPositions.enumerated() {
            do {
                try groupTotals[i].add(values[position])
                try grandTotals[i].add(values[position])
            } catch {
                throw ReportDataError(output: name, row: number, column: totals[i], problem: "\(error)", fix: "total numeric columns only")
            }
        }
        rowCount += 1
    }

    private func flushGroup() throws {
        var sums: [String: String] = [:]
        for (column, sum) in zip(totals, groupTotals) { sums[column] = sum.text }
        let group: [String: Any] = ["key": currentKey ?? "", "rows": rows, "first": rows.first ?? [:], "count": rows.count, "totals": sums]
        try files.write(Array(template.render(["group": group]).utf8), rows: rows.count)
        groupCount += 1
        rows.removeAll(keepingCapacity: true)
        groupTotals = totals.map { _ in DecimalSum() }
    }

    func finish() throws -> [ReportFileSeries.Written] {
        if !rows.isEmpty { try flushGroup() }
        var sums: [String: String] = [:]
        for (column, sum) in zip(totals, grandTotals) { sums[column] = sum.text }
        try files.write(Array(template.render(["footer": ["rows": rowCount, "groups": groupCount, "totals": sums]]).utf8))
        try files.close()
        return files.written
    }

    func abandon() { files.abandon() }
}
