/// What a server does with a topic subscriber that falls behind: one whose unsent published
/// bytes would exceed `maxBacklog` (a peer that reads slowly, or not at all).
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
        /// later), sent ahead of its queue; what was queued for it is dropped.
        case close(CloseCode)
    }

    /// The most bytes of published frames queued for one subscriber. Default 1 MiB: about 1,000
    /// messages of 1 KiB, far more than a subscriber that reads keeps waiting in the fan-out
    /// benchmark (see `Benchmarks/fanout-compare.sh`).
    public var maxBacklog: Int
    /// What happens past `maxBacklog`. Default `.dropMessages`.
    public var action: Action

    /// Creates a policy.
    /// - Parameters:
    ///   - maxBacklog: Most queued published bytes per subscriber (≥ 1; a single larger
    ///     message is queued when nothing else waits).
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
