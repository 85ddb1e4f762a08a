import Synchronization

/// The live counts behind `LoopStatistics`, one set per service loop.
///
/// The message and byte counts have one writer, the loop thread, which adds with a plain
/// load and store (no locked instruction per message); the peer counts change on the
/// accepting loop too, so they use atomic additions.
final class LoopCounters: Sendable {
    let connections = Atomic<Int>(0)
    let connectionsAccepted = Atomic<Int>(0)
    private let messagesReceived = Atomic<Int>(0)
    private let bytesReceived = Atomic<Int>(0)
    private let messagesSent = Atomic<Int>(0)
    private let bytesSent = Atomic<Int>(0)

    /// Loop thread only: a whole message of `bytes` payload bytes was received.
    func received(messages: Int = 1, bytes: Int) {
        Self.add(messages, to: messagesReceived)
        Self.add(bytes, to: bytesReceived)
    }

    /// Loop thread only: `messages` messages of `bytes` payload bytes in all were queued.
    func sent(messages: Int, bytes: Int) {
        Self.add(messages, to: messagesSent)
        Self.add(bytes, to: bytesSent)
    }

    /// A snapshot, from any thread.
    func snapshot(threadName: String) -> LoopStatistics {
        LoopStatistics(
            threadName: threadName,
            connections: connections.load(ordering: .relaxed),
            connectionsAccepted: connectionsAccepted.load(ordering: .relaxed),
            messagesReceived: messagesReceived.load(ordering: .relaxed),
            bytesReceived: bytesReceived.load(ordering: .relaxed),
            messagesSent: messagesSent.load(ordering: .relaxed),
            bytesSent: bytesSent.load(ordering: .relaxed)
        )
    }

    private static func add(_ value: Int, to counter: borrowing Atomic<Int>) {
        counter.store(counter.load(ordering: .relaxed) &+ value, ordering: .relaxed)
    }
}
