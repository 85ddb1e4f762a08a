import Synchronization

/// A Redis broker's state and counts, written by its thread and read from any thread.
final class BrokerStatus: Sendable {
    private let isConnectedFlag = Atomic<Bool>(false)
    private let publishedCount = Atomic<Int>(0)
    private let droppedCount = Atomic<Int>(0)
    private let deliveredCount = Atomic<Int>(0)
    private let rejectedCount = Atomic<Int>(0)
    private let connectionCount = Atomic<Int>(0)

    /// Whether both connections are up.
    var isConnected: Bool { isConnectedFlag.load(ordering: .acquiring) }

    /// The broker connected (counted) or lost its connection.
    func connected(_ connected: Bool) {
        isConnectedFlag.store(connected, ordering: .releasing)
        if connected { connectionCount.add(1, ordering: .relaxed) }
    }

    /// A message went to Redis.
    func published() { publishedCount.add(1, ordering: .relaxed) }
    /// A message published here did not go to Redis.
    func dropped() { droppedCount.add(1, ordering: .relaxed) }
    /// A message from another node went to this node's subscribers.
    func delivered() { deliveredCount.add(1, ordering: .relaxed) }

    /// Counts a rejected message; returns how many so far.
    func rejected() -> Int { rejectedCount.add(1, ordering: .relaxed).newValue }

    /// The counts now.
    var snapshot: RedisTopicBroker.Statistics {
        RedisTopicBroker.Statistics(
            published: publishedCount.load(ordering: .relaxed), dropped: droppedCount.load(ordering: .relaxed),
            delivered: deliveredCount.load(ordering: .relaxed), rejected: rejectedCount.load(ordering: .relaxed),
            connections: connectionCount.load(ordering: .relaxed))
    }
}
