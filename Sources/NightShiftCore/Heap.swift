/// A binary heap ordered by `areInIncreasingOrder` (the first element pops first).
public struct Heap<Element> {
    private var items: [Element] = []
    private let before: (Element, Element) -> Bool

    public init(by areInIncreasingOrder: @escaping (Element, Element) -> Bool) {
        before = areInIncreasingOrder
    }

    public var isEmpty: Bool { items.isEmpty }
    public var count: Int { items.count }
    public var peek: Element? { items.first }

    public mutating func push(_ item: Element) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    public mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var best = parent
            if left < items.count && before(items[left], items[best]) { best = left }
            if right < items.count && before(items[right], items[best]) { best = right }
            if best == parent { break }
            items.swapAt(parent, best)
            parent = best
        }
        return top
    }
}
