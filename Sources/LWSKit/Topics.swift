/// Publish/subscribe: a server's connections subscribe to named topics, and a message
/// published to a topic goes to every subscriber, framed once and shared (see
/// `WebSocketServer.publish(_:to:)` for the guarantees).
extension WebSocketConnection {
    /// Subscribes this server connection to `topic`; nothing if it is already. It leaves every
    /// topic when it ends. From any thread: the subscription takes effect in order with the
    /// caller's other calls to the server (a message the same thread or task publishes after
    /// this call returns reaches it).
    /// - Throws: `LWSError.invalidArgument` on a client connection, or for a topic name longer
    ///   than the server's `TopicBroker` carries; `.connectionClosed` once it is closing or
    ///   closed; `.notRunning` once the server is shut down.
    public func subscribe(to topic: String) throws {
        let registry = try serverTopics()
        try registry.checkBrokerLimits(topic: topic)
        let index = loop.loopIndex
        registry.expectSubscription(to: topic, on: index)
        do {
            try onTopics({ [self] topics in topics.subscribe(self, to: topic) }, after: { registry.subscriptionArrived(to: topic, on: index) })
        } catch {
            registry.subscriptionArrived(to: topic, on: index)
            throw error
        }
    }

    /// Unsubscribes this server connection from `topic`; nothing if it is not subscribed.
    /// - Throws: As `subscribe(to:)`.
    public func unsubscribe(from topic: String) throws {
        try onTopics { [self] topics in topics.unsubscribe(self, from: topic) }
    }

    /// Publishes `message` to `topic` on this connection's server, to every subscriber except
    /// this connection unless `includingSelf` (a chat room echoing its sender's words).
    /// - Throws: `LWSError.invalidArgument` on a client connection, or past the limits of the
    ///   server's `TopicBroker` (nothing is published then); `.notRunning` once the server is
    ///   shut down.
    public func publish(_ message: Message, to topic: String, includingSelf: Bool = false) throws {
        let registry = try serverTopics()
        try registry.publish(message, to: topic, excluding: includingSelf ? nil : ObjectIdentifier(self))
    }

    /// Published messages this connection did not receive because it was behind (see
    /// `SlowSubscriberPolicy.Action.dropMessages`).
    public var droppedPublishCount: Int { state.droppedPublishes.load(ordering: .relaxed) }

    /// The server's topic registry.
    /// - Throws: `LWSError.invalidArgument` on a client connection.
    private func serverTopics() throws -> TopicRegistry {
        guard let registry = loop.topicRegistry else { throw LWSError.invalidArgument("topics belong to servers; this is a client connection") }
        return registry
    }

    /// Runs `change` on the loop thread, unless the connection ended first; then `after`,
    /// whether or not `change` ran.
    private func onTopics(_ change: @escaping @Sendable (TopicTable) -> Void, after: @escaping @Sendable () -> Void = {}) throws {
        _ = try serverTopics()
        guard state.acceptsSends.load(ordering: .acquiring) else { throw LWSError.connectionClosed }
        try loop.execute { [self] in
            defer { after() }
            guard !state.lifecycle.hasEnded, let topics = loop.topics else { return }
            change(topics)
        }
    }
}

extension WebSocketServer {
    /// Publishes `message` to every connection subscribed to `topic`, from any thread or task.
    ///
    /// The message is framed once; every subscriber on the loop shares those bytes, and a
    /// subscriber's pending publishes go to its socket together.
    ///
    /// Guarantees:
    /// - each subscriber receives the messages of one publisher (one thread, task or handler)
    ///   in the order they were published, across topics too;
    /// - a subscriber receives what was published after its `subscribe(to:)` took effect and
    ///   before its `unsubscribe(from:)` did (a message published meanwhile by the same caller
    ///   falls on the right side), at most once;
    /// - a subscriber that falls behind loses messages, or is closed, as
    ///   `WebSocketServerConfiguration.slowSubscribers` says; the others never wait for it.
    ///
    /// With a `WebSocketServerConfiguration.topicBroker`, the message also goes to the other
    /// nodes, whose subscribers receive it as the broker guarantees (for `RedisTopicBroker`:
    /// each publisher's order, at most once, nothing while Redis is unreachable).
    /// - Throws: `LWSError.notRunning` once the server is shut down; `.invalidArgument` past
    ///   the broker's limits (nothing is published then).
    public func publish(_ message: Message, to topic: String) throws {
        try loops.topics.publish(message, to: topic, excluding: nil)
    }

    /// How many connections of this server (this node) subscribe to `topic` now.
    public func subscriberCount(of topic: String) -> Int {
        loops.topics.count(of: topic)
    }
}
