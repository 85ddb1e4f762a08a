/// Carries a server's topics to the other server processes (nodes) of a service, so that a
/// message published on one node reaches the subscribers of every node. Set it as
/// `WebSocketServerConfiguration.topicBroker`; `RedisTopicBroker` (the `LWSKitRedis` product)
/// implements it over Redis.
///
/// The server calls it; applications do not:
/// - `start(delivering:)` once, from `WebSocketServer.start()`;
/// - `subscribe(to:)` when the node gains its first subscriber of a topic and
///   `unsubscribe(from:)` when it loses its last, in the order those happen;
/// - `publish(_:to:)` for every message published on this node (by a connection or by
///   `WebSocketServer.publish`), in each publisher's order, after the node's own subscribers
///   have been handed it;
/// - `stop()` once, after the server's service threads have ended.
///
/// `subscribe`, `unsubscribe` and `publish` run on the caller's thread, a service thread
/// included, some under a lock of the server's: they must return at once (queue the work for a
/// thread of the broker's own) and must not call back into the server.
///
/// What another node published reaches this node through the `deliver` closure given to
/// `start`: the server hands it to this node's subscribers only (never back to the broker).
/// The broker must not deliver this node's own messages back: its subscribers already have them.
public protocol TopicBroker: AnyObject, Sendable {
    /// The longest topic name and the largest message the broker carries. The server refuses
    /// a subscription or publish past them with `LWSError.invalidArgument`, before any node
    /// sees it.
    var limits: TopicBrokerLimits { get }

    /// Starts carrying messages. `deliver` takes each message another node published, with its
    /// topic, from any thread; the messages of one publisher must be delivered in its order.
    /// - Throws: To make `WebSocketServer.start()` fail (a broker told to fail fast when it
    ///   cannot connect); the server then does not serve.
    func start(delivering deliver: @escaping @Sendable (_ topic: String, _ message: Message) -> Void) throws

    /// The node has its first subscriber of `topic`: messages other nodes publish to it are
    /// wanted from now on.
    func subscribe(to topic: String)

    /// The node's last subscriber of `topic` left.
    func unsubscribe(from topic: String)

    /// `message` was published to `topic` on this node: carry it to the other nodes.
    func publish(_ message: Message, to topic: String)

    /// Stops carrying messages and releases the broker's threads and connections. Called once,
    /// after the server's service threads have ended; it may block until the broker's own
    /// thread has ended.
    func stop()
}

/// What a `TopicBroker` carries at most.
public struct TopicBrokerLimits: Sendable, Hashable {
    /// The longest topic name, in UTF-8 bytes.
    public var maxTopicBytes: Int
    /// The largest message payload, in bytes.
    public var maxMessageBytes: Int

    /// Creates limits.
    /// - Parameters:
    ///   - maxTopicBytes: The longest topic name in UTF-8 bytes, at least 1. Default 1,024.
    ///   - maxMessageBytes: The largest payload in bytes, at least 1. Default 8 MiB.
    public init(maxTopicBytes: Int = 1024, maxMessageBytes: Int = 8 * 1024 * 1024) {
        self.maxTopicBytes = maxTopicBytes
        self.maxMessageBytes = maxMessageBytes
    }

    /// Throws `LWSError.invalidConfiguration` unless both limits are at least 1 byte.
    package func validate() throws {
        guard maxTopicBytes >= 1, maxMessageBytes >= 1 else {
            throw LWSError.invalidConfiguration("topic broker limits must be at least 1 byte each (got \(self))")
        }
    }

    /// Throws `LWSError.invalidArgument` naming the limit that `topic` or `message` passes.
    func check(topic: String, message: Message? = nil) throws {
        let topicBytes = topic.utf8.count
        guard topicBytes <= maxTopicBytes else {
            throw LWSError.invalidArgument("topic name of \(topicBytes) bytes is longer than the broker's maxTopicBytes (\(maxTopicBytes))")
        }
        if let message, message.byteCount > maxMessageBytes {
            throw LWSError.invalidArgument(
                "message of \(message.byteCount) bytes is larger than the broker's maxMessageBytes (\(maxMessageBytes))")
        }
    }
}
