import Synchronization

/// A Redis broker's state and counts, written by its thread and read from any thread.
final class BrokerStatus: Sendable {
    private let isConnectedFlag = Atomic<Bool>(false)
    private let publishedCount = Atomic<Int>(0)
    private let droppedCount = Atomic<Int>(0)
    private let deliveredCount = Atomic<Int>(0)
    private let rejectedCount = Atomic<Int>(0)
    private let connectionCount = Atomic<Int>(0)

    var isConnected: Bool { isConnectedFlag.load(ordering: .acquiring) }

    func connected(_ connected: Bool) {
        isConnectedFlag.store(connected, ordering: .releasing)
        if connected { connectionCount.add(1, ordering: .relaxed) }
    }

    func published() { publishedCount.add(1, ordering: .relaxed) }
    func dropped() { droppedCount.add(1, ordering: .relaxed) }
    func delivered() { deliveredCount.add(1, ordering: .relaxed) }

    /// Counts a rejected message; returns how many so far.
    func rejected() -> Int { rejectedCount.add(1, ordering: .relaxed).newValue }

    var snapshot: RedisTopicBroker.Statistics {
        RedisTopicBroker.Statistics(
            published: publishedCount.load(ordering: .relaxed), dropped: droppedCount.load(ordering: .relaxed),
            delivered: deliveredCount.load(ordering: .relaxed), rejected: rejectedCount.load(ordering: .relaxed),
            connections: connectionCount.load(ordering: .relaxed))
    }
}
