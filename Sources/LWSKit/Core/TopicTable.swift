/// The topics of one service loop: which of its connections subscribe to what, and the
/// messages published since the loop last delivered them. Loop thread only.
///
/// Consecutive publishes to one topic are framed into one `PublishedFrames`, delivered to the
/// topic's subscribers when the loop's turn ends, or earlier when a publish to another topic or
/// a change of this topic's subscribers comes first. So every subscriber receives the messages
/// of every publisher in the order the loop took them, across topics too, and a connection
/// receives exactly what was published after its subscription took effect.
final class TopicTable {
    private let registry: TopicRegistry
    /// This loop's index in the registry.
    private let loopIndex: Int
    private var subscribers: [String: [ObjectIdentifier: WebSocketConnection]] = [:]
    /// The topic of the messages in `pending`.
    private var pendingTopic: String?
    private var pending: PublishedFrames.Builder

    /// `keepsMessages`: whether subscribers may need the messages themselves (see
    /// `PublishedFrames.messages(for:)`), not only their frames.
    init(registry: TopicRegistry, loopIndex: Int, keepsMessages: Bool) {
        self.registry = registry
        self.loopIndex = loopIndex
        self.pending = PublishedFrames.Builder(keepsMessages: keepsMessages)
    }

    /// Subscribes `connection` to `topic` (nothing if it is already).
    func subscribe(_ connection: WebSocketConnection, to topic: String) {
        guard !connection.state.subscriptions.contains(topic) else { return }
        if pendingTopic == topic { deliverPending() }
        connection.state.subscriptions.insert(topic)
        subscribers[topic, default: [:]][ObjectIdentifier(connection)] = connection
        registry.add(1, to: topic, on: loopIndex)
    }

    /// Unsubscribes `connection` from `topic` (nothing if it is not subscribed).
    func unsubscribe(_ connection: WebSocketConnection, from topic: String) {
        guard connection.state.subscriptions.remove(topic) != nil else { return }
        if pendingTopic == topic { deliverPending() }
        subscribers[topic]?[ObjectIdentifier(connection)] = nil
        if subscribers[topic]?.isEmpty == true { subscribers[topic] = nil }
        registry.add(-1, to: topic, on: loopIndex)
    }

    /// Unsubscribes `connection` from everything (it ended).
    func unsubscribeFromAll(_ connection: WebSocketConnection) {
        for topic in connection.state.subscriptions { unsubscribe(connection, from: topic) }
    }

    /// Frames `message` for the subscribers of `topic` on this loop, except `excluded`.
    func publish(_ message: Message, to topic: String, excluding excluded: ObjectIdentifier?) {
        guard subscribers[topic] != nil else { return }
        if pendingTopic != topic { deliverPending() }
        pendingTopic = topic
        pending.append(message, excluding: excluded)
    }

    /// Hands what was published to the subscribers. At the end of every turn of the loop
    /// (`betweenCallbacks`), where it may write to their sockets at once; otherwise (a change
    /// of subscribers or topic, maybe inside a handler) it queues for their next WRITEABLE.
    func deliverPending(betweenCallbacks: Bool = false) {
        guard let topic = pendingTopic else { return }
        pendingTopic = nil
        guard !pending.isEmpty else { return }
        let frames = pending.finish()
        for connection in subscribers[topic, default: [:]].values {
            connection.enqueuePublished(frames, writeNow: betweenCallbacks)
        }
    }
}
