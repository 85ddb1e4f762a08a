/// What a server does with a topic subscriber that falls behind: one with more than
/// `maxBacklog` bytes unsent (`bufferedAmount`) when a message is published (a peer that reads
/// slowly, or not at all). The check comes before each burst of publishes, which is then taken
/// whole: one that is behind holds at most the bound plus that burst.
///
/// Published frames are shared: a backlog holds references to frames every subscriber on the
/// loop shares, so many slow subscribers of one topic do not multiply the memory. The bound
/// keeps one that never reads from holding published data forever, and other subscribers
/// never wait for it.
public struct SlowSubscriberPolicy: Sendable, Hashable {
    /// What happens to a subscriber whose backlog is full.
    public enum Action: Sendable, Hashable {
        /// The message is not queued for it; `WebSocketConnection.droppedPublishCount` counts
        /// it (an ordered stream can notice the gap and resync). Messages fit again once the
        /// backlog has drained.
        case dropMessages
        /// The subscriber is closed with this code (1008 policy violation, or 1013 try again
        /// later), sent ahead of its queue; what was queued for it is dropped, and it leaves
        /// its topics at once. A peer that makes no room for the close frame within 5 s is
        /// dropped without it.
        case close(CloseCode)
    }

    /// The unsent bytes past which a subscriber is behind. Default 1 MiB: in the fan-out
    /// benchmark (`Benchmarks/fanout-compare.sh`: 100 subscribers with 16 messages of 64 B in
    /// flight, 1,000 with 3 of 1 KiB, 10 with 4 of 64 KiB) no subscriber that reads ever got
    /// there, while one that never reads holds about 1 MiB. A publisher keeping about as much
    /// in flight as the bound (16 of 64 KiB) can outrun subscribers on a server that is busy:
    /// raise the bound for such traffic.
    public var maxBacklog: Int
    /// What happens past `maxBacklog`. Default `.dropMessages`.
    public var action: Action

    /// Creates a policy.
    /// - Parameters:
    ///   - maxBacklog: Unsent bytes past which a subscriber is behind (≥ 1).
    ///   - action: What happens past it.
    public init(maxBacklog: Int = 1 << 20, action: Action = .dropMessages) {
        self.maxBacklog = maxBacklog
        self.action = action
    }

    func validate() throws {
        guard maxBacklog >= 1 else { throw LWSError.invalidConfiguration("maxBacklog \(maxBacklog) must be at least 1") }
        if case .close(let code) = action, !code.isSendable {
            throw LWSError.invalidConfiguration("close code \(code) cannot be sent in a close frame")
        }
    }
}
