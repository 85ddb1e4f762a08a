import LWSKit
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The Redis broker's thread: two connections (Redis lets a subscribing connection do nothing
/// but subscribe, so publishes go on a second one), driven with `poll` beside the inbox's
/// wake-up pipe. It keeps the node's topics subscribed, publishes what the node publishes, hands
/// other nodes' messages to `deliver`, notices a silent or lost Redis and reconnects with
/// backoff, resubscribing every topic. Broker thread only, after `init`.
final class RedisBrokerLoop {
    /// Both connections, or neither: the broker is up only when it can do both halves.
    private struct Connections {
        let subscriber: RedisConnection
        let publisher: RedisConnection
    }

    /// When to try connecting again, and how long to wait after that attempt fails.
    private struct Backoff {
        var nextAttempt: ContinuousClock.Instant
        var delay: Duration
        /// Failed attempts since the broker was last connected.
        var failures = 0
    }

    private let endpoint: RedisEndpoint
    private let configuration: RedisTopicBroker.Configuration
    private let inbox: BrokerInbox
    private let status: BrokerStatus
    private let node: BrokerEnvelope.NodeID
    private let deliver: @Sendable (String, Message) -> Void
    private let logger: Logger
    private var connections: Connections?
    private var backoff: Backoff
    /// The topics this node subscribes, connected or not.
    private var topics = Set<String>()
    /// `channelPrefix` as bytes, put before each topic.
    private let channelPrefix: [UInt8]
    /// Publishes dropped since the broker was last connected (they are logged when it is again).
    private var droppedWhileDown = 0

    /// - Parameter connected: Connections made by `start` (a broker that must be connected to
    ///   start); nil connects on the thread.
    init(endpoint: RedisEndpoint, configuration: RedisTopicBroker.Configuration, inbox: BrokerInbox, status: BrokerStatus,
         node: BrokerEnvelope.NodeID, deliver: @escaping @Sendable (String, Message) -> Void, logger: Logger,
         connected: (subscriber: RedisConnection, publisher: RedisConnection)?) {
        self.endpoint = endpoint
        self.configuration = configuration
        self.inbox = inbox
        self.status = status
        self.node = node
        self.deliver = deliver
        self.logger = logger
        self.channelPrefix = Array(configuration.channelPrefix.utf8)
        self.connections = connected.map { Connections(subscriber: $0.subscriber, publisher: $0.publisher) }
        self.backoff = Backoff(nextAttempt: .now, delay: configuration.reconnectDelays.lowerBound)
        if connections != nil { status.connected(true) }
    }

    /// Connects both halves to `endpoint`, each within `timeout`.
    static func connect(to endpoint: RedisEndpoint, timeout: Duration) throws(RedisConnection.Failure) -> (subscriber: RedisConnection, publisher: RedisConnection) {
        (try RedisConnection(to: endpoint, timeout: timeout), try RedisConnection(to: endpoint, timeout: timeout))
    }

    /// Serves until the inbox stops.
    func run() {
        while true {
            let (requests, stopping) = inbox.take()
            if stopping { break }
            for request in requests { apply(request) }
            if connections == nil, ContinuousClock.now >= backoff.nextAttempt { connect() }
            if let connections { checkHealth(connections) }
            waitAndServe()
        }
        if connections != nil { status.connected(false) }
        connections = nil
    }

    private func apply(_ request: BrokerRequest) {
        switch request {
        case .subscribe(let topic):
            guard topics.insert(topic).inserted, let connections else { return }
            append("SUBSCRIBE", topics: [topic], to: connections.subscriber)
        case .unsubscribe(let topic):
            guard topics.remove(topic) != nil, let connections else { return }
            append("UNSUBSCRIBE", topics: [topic], to: connections.subscriber)
        case .publish(let topic, let envelope):
            guard let connections, connections.publisher.unsentBytes + envelope.count <= configuration.maxUnsentBytes else {
                dropped()
                return
            }
            connections.publisher.append([Self.publishCommand, channel(topic), envelope])
            status.published()
        }
    }

    private static let publishCommand = Array("PUBLISH".utf8)
    private static let pingCommand = Array("PING".utf8)

    /// Appends `command` (SUBSCRIBE, UNSUBSCRIBE) for `topics` (one reply per topic), in chunks
    /// of a sensible size.
    private func append(_ command: String, topics: some Collection<String>, to connection: RedisConnection) {
        for chunk in topics.chunked(by: 512) {
            connection.append([Array(command.utf8)] + chunk.map(channel), replies: chunk.count)
        }
    }

    private func channel(_ topic: String) -> [UInt8] {
        channelPrefix + topic.utf8
    }

    private func dropped() {
        if droppedWhileDown == 0 {
            logger.warning("Redis is not connected: messages published here do not reach other nodes until it is", metadata: metadata)
        }
        droppedWhileDown += 1
        status.dropped()
    }

    // MARK: Connecting

    private func connect() {
        do {
            let (subscriber, publisher) = try Self.connect(to: endpoint, timeout: configuration.connectTimeout)
            let connections = Connections(subscriber: subscriber, publisher: publisher)
            self.connections = connections
            append("SUBSCRIBE", topics: topics.sorted(), to: subscriber)
            logger.info("connected to Redis", metadata: metadata.merging([
                "topics": "\(topics.count)", "failed-attempts": "\(backoff.failures)", "dropped-publishes": "\(droppedWhileDown)",
            ]) { $1 })
            droppedWhileDown = 0
            backoff = Backoff(nextAttempt: .now, delay: configuration.reconnectDelays.lowerBound)
            status.connected(true)
        } catch {
            if backoff.failures == 0 {
                logger.warning("cannot reach Redis; retrying with backoff (local delivery goes on)", metadata: metadata.merging([
                    "reason": "\(error)", "max-delay": "\(configuration.reconnectDelays.upperBound)",
                ]) { $1 })
            } else {
                logger.debug("still cannot reach Redis", metadata: metadata.merging(["reason": "\(error)"]) { $1 })
            }
            retryLater()
        }
    }

    private func retryLater() {
        backoff.failures += 1
        backoff.nextAttempt = .now + backoff.delay
        backoff.delay = min(backoff.delay * 2, configuration.reconnectDelays.upperBound)
    }

    private func lost(_ reason: String) {
        logger.warning("lost the Redis connection; reconnecting", metadata: metadata.merging(["reason": "\(reason)"]) { $1 })
        connections = nil
        status.connected(false)
        backoff = Backoff(nextAttempt: .now, delay: configuration.reconnectDelays.lowerBound)  // Redis may be back already
    }

    /// A connection waiting too long for a reply is lost; an idle one is pinged, so that a
    /// Redis gone silent is noticed within `replyTimeout` of the ping.
    private func checkHealth(_ connections: Connections) {
        let now = ContinuousClock.now
        for connection in [connections.subscriber, connections.publisher] {
            if connection.awaitedReplies > 0, now - connection.lastProgress > configuration.replyTimeout {
                lost("Redis did not answer within \(configuration.replyTimeout)")
                return
            }
            if connection.awaitedReplies == 0, now - connection.lastProgress > configuration.pingInterval {
                connection.append([Self.pingCommand])
            }
        }
    }

    // MARK: Serving

    /// Writes what waits, then sleeps in `poll` until Redis or the inbox has something, or the
    /// next timer (health check, reconnect attempt) is due; then reads.
    private func waitAndServe() {
        var descriptors = [pollfd(fd: inbox.wakeDescriptor, events: Int16(POLLIN), revents: 0)]
        if let connections {
            do {
                let subscriberDone = try connections.subscriber.flush()
                let publisherDone = try connections.publisher.flush()
                descriptors.append(pollfd(fd: connections.subscriber.descriptor, events: Int16(POLLIN) | (subscriberDone ? 0 : Int16(POLLOUT)), revents: 0))
                descriptors.append(pollfd(fd: connections.publisher.descriptor, events: Int16(POLLIN) | (publisherDone ? 0 : Int16(POLLOUT)), revents: 0))
            } catch {
                lost(error.description)
            }
        }
        let timeout = connections == nil ? max(ContinuousClock.now.duration(to: backoff.nextAttempt), .zero) : configuration.pingInterval / 4
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000 + 1)
        guard poll(&descriptors, nfds_t(descriptors.count), milliseconds) > 0, let connections, descriptors.count == 3 else { return }
        do {
            if descriptors[1].revents != 0 {
                try connections.subscriber.read { reply in received(reply) }
            }
            if descriptors[2].revents != 0 {
                try connections.publisher.read { reply in
                    if let error = reply.error { logger.warning("Redis refused a publish", metadata: metadata.merging(["reason": "\(error)"]) { $1 }) }
                    return true
                }
            }
        } catch {
            lost(error.description)
        }
    }

    /// A reply on the subscribing connection: a message for `deliver`, or the answer to a
    /// (un)subscription or ping. Returns whether it answered a command.
    private func received(_ reply: RedisReplyView) -> Bool {
        guard let parts = reply.elements, parts.count == 3, let kind = parts[0].text, kind == "message" else { return true }
        guard let channel = parts[1].text, channel.hasPrefix(configuration.channelPrefix) else { return false }
        let topic = String(channel.dropFirst(configuration.channelPrefix.count))
        let limit = configuration.limits.maxMessageBytes
        let decoded = parts[2].withBytes { bytes in
            Result { () throws(BrokerEnvelope.DecodingError) in try BrokerEnvelope.decode(bytes, droppingFrom: node, maxPayload: limit) }
        } ?? .failure(.notAString)
        switch decoded {
        case .success(let message?):
            status.delivered()
            deliver(topic, message)
        case .success(nil):
            break  // (this node's own, back from Redis)
        case .failure(let error):
            rejected(topic: topic, reason: "\(error)")
        }
        return false
    }

    /// A message on one of our channels that no LWSKit node sent: another program publishes
    /// there. Dropped; logged the first time and every 1,000th after.
    private func rejected(topic: String, reason: String) {
        let count = status.rejected()
        guard count % 1000 == 1 else { return }
        logger.warning("dropped a message from Redis that is not an LWSKit node's", metadata: metadata.merging([
            "topic": "\(topic)", "reason": "\(reason)", "dropped-so-far": "\(count)",
        ]) { $1 })
    }

    private var metadata: Logger.Metadata {
        ["redis": "\(endpoint)", "node": "\(configuration.nodeName)"]
    }
}

extension Collection {
    /// The elements in consecutive chunks of at most `size`.
    fileprivate func chunked(by size: Int) -> [SubSequence] {
        var chunks: [SubSequence] = []
        var start = startIndex
        while start != endIndex {
            let end = index(start, offsetBy: size, limitedBy: endIndex) ?? endIndex
            chunks.append(self[start..<end])
            start = end
        }
        return chunks
    }
}
