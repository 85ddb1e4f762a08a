import LWSKit
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Shares a server's topics with the other server processes (nodes) of a service through Redis
/// publish/subscribe, so that a message published on any node reaches the subscribers of every
/// node. Set it as `WebSocketServerConfiguration.topicBroker`, one broker per server:
///
/// ```swift
/// let broker = try RedisTopicBroker(url: "redis://127.0.0.1:6379")
/// let server = try WebSocketServer(configuration: .init(port: 28709, protocols: [chat], topicBroker: broker))
/// ```
///
/// Each topic is the Redis channel `channelPrefix + topic`. A node subscribes to a channel
/// while it has at least one subscriber of the topic, and publishes every message published on
/// it; its own messages, which Redis sends back to it, are dropped (its subscribers already
/// have them). Payloads are binary-safe and text stays text.
///
/// Guarantees:
/// - the messages of one publisher reach the subscribers of every node in the order published;
///   messages of two publishers may interleave differently on different nodes;
/// - at most once: what is published while Redis is unreachable (or past `maxUnsentBytes` while
///   it is slow) is lost for the other nodes, counted in `statistics.dropped` and logged; local
///   subscribers still receive it. A subscription on a node takes effect for the other nodes'
///   messages once Redis has it, a few milliseconds after the first local subscriber;
/// - topic names and payloads are bounded by `Configuration.limits`; past them `publish` and
///   `subscribe` throw `LWSError.invalidArgument` and nothing is sent anywhere.
///
/// Faults: the broker runs on a thread of its own (`lwskit-redis`), so a slow or lost Redis
/// never blocks a service thread. Unreachable at start, the server starts anyway and the broker
/// retries with backoff (or `start` fails, with `Configuration.requiresConnectionAtStart`). When
/// the connection is lost, or Redis does not answer within `replyTimeout`, it reconnects at once
/// and then with backoff, and subscribes every topic again. `isConnected` and the log say
/// where it stands.
public final class RedisTopicBroker: TopicBroker {
    /// How a `RedisTopicBroker` names its channels, bounds what it carries and deals with a
    /// slow or lost Redis.
    public struct Configuration: Sendable {
        /// Put before every topic to make its Redis channel, so that several services can share
        /// one Redis. Default "lwskit:".
        public var channelPrefix: String
        /// This node's name in log lines. Default: the host name and the process id.
        public var nodeName: String
        /// The longest topic and largest message carried. Default 1,024 and 8 MiB.
        public var limits: TopicBrokerLimits
        /// The longest wait for each step of connecting (TCP, `AUTH`, `PING`). Default 1 s.
        public var connectTimeout: Duration
        /// How long Redis may take to answer before the connection counts as lost. Default 3 s.
        public var replyTimeout: Duration
        /// An idle connection is pinged after this long, so that a silent Redis is noticed.
        /// Default 1 s.
        public var pingInterval: Duration
        /// The wait before the second attempt to connect, doubling to the upper bound after
        /// each failure (the first attempt after a loss is immediate). Default 100 ms...2 s.
        public var reconnectDelays: ClosedRange<Duration>
        /// The most published bytes waiting for Redis to read them (and, again, waiting for the
        /// broker's thread); past it publishes are dropped for the other nodes. Default 64 MiB.
        public var maxUnsentBytes: Int
        /// Make `WebSocketServer.start()` fail with `LWSError.brokerUnavailable` when Redis
        /// cannot be reached, instead of starting and retrying. Default false.
        public var requiresConnectionAtStart: Bool

        /// Creates a configuration; every parameter has the default documented on its property.
        public init(
            channelPrefix: String = "lwskit:", nodeName: String? = nil, limits: TopicBrokerLimits = .init(),
            connectTimeout: Duration = .seconds(1), replyTimeout: Duration = .seconds(3), pingInterval: Duration = .seconds(1),
            reconnectDelays: ClosedRange<Duration> = .milliseconds(100) ... .seconds(2), maxUnsentBytes: Int = 64 * 1024 * 1024,
            requiresConnectionAtStart: Bool = false
        ) {
            self.channelPrefix = channelPrefix
            self.nodeName = nodeName ?? Self.defaultNodeName()
            self.limits = limits
            self.connectTimeout = connectTimeout
            self.replyTimeout = replyTimeout
            self.pingInterval = pingInterval
            self.reconnectDelays = reconnectDelays
            self.maxUnsentBytes = maxUnsentBytes
            self.requiresConnectionAtStart = requiresConnectionAtStart
        }

        private static func defaultNodeName() -> String {
            var name = [UInt8](repeating: 0, count: 256)
            let host = gethostname(&name, name.count - 1) == 0 ? String(decoding: name.prefix { $0 != 0 }, as: UTF8.self) : "node"
            return "\(host)-\(getpid())"
        }

        /// Throws `LWSError.invalidConfiguration` naming the field that cannot work.
        func validate() throws {
            func positive(_ duration: Duration, _ name: String) throws {
                guard duration > .zero else { throw LWSError.invalidConfiguration("\(name) must be positive (got \(duration))") }
            }
            try positive(connectTimeout, "connectTimeout")
            try positive(replyTimeout, "replyTimeout")
            try positive(pingInterval, "pingInterval")
            try positive(reconnectDelays.lowerBound, "reconnectDelays' lower bound")
            try limits.validate()
            guard maxUnsentBytes >= limits.maxMessageBytes + BrokerEnvelope.headerCount else {
                throw LWSError.invalidConfiguration("maxUnsentBytes (\(maxUnsentBytes)) must hold the largest message (\(limits.maxMessageBytes)) and its header")
            }
        }
    }

    /// What a broker has carried so far.
    public struct Statistics: Sendable, Hashable {
        /// Messages handed to Redis for the other nodes.
        public var published: Int
        /// Messages published here that did not go to Redis: it was unreachable, or too slow.
        public var dropped: Int
        /// Messages from other nodes delivered to this node's subscribers.
        public var delivered: Int
        /// Messages on this service's channels that no LWSKit node sent (not an envelope,
        /// invalid UTF-8 text, past the size limit): dropped.
        public var rejected: Int
        /// How many times the broker has connected (1 plus the reconnections).
        public var connections: Int
    }

    /// The Redis server.
    public let endpoint: RedisEndpoint
    /// The configuration the broker was made with.
    public let configuration: Configuration
    private let logger: Logger
    private let node = BrokerEnvelope.NodeID.random()
    private let inbox: BrokerInbox
    private let status = BrokerStatus()
    private let thread = LockedValue<Phase>(.idle)

    private enum Phase {
        case idle
        case running(LoopThread)
        case stopped
    }

    /// Creates a broker for `endpoint`; nothing connects before the server starts.
    /// - Parameters:
    ///   - logger: Where connection changes and dropped messages are logged. Default: label
    ///     "LWSKit.redis".
    /// - Throws: `LWSError.invalidConfiguration` naming what cannot work;
    ///   `.brokerUnavailable` if the system refuses a pipe.
    public init(endpoint: RedisEndpoint, configuration: Configuration = .init(), logger: Logger = Logger(label: "LWSKit.redis")) throws {
        try configuration.validate()
        self.endpoint = endpoint
        self.configuration = configuration
        self.logger = logger
        self.inbox = try BrokerInbox(maxQueuedBytes: configuration.maxUnsentBytes)
    }

    /// Creates a broker for `redis://[[user]:password@]host[:port][/db]`.
    /// - Throws: `LWSError.invalidURL` for a URL that is not one; as `init(endpoint:...)`.
    public convenience init(url: String, configuration: Configuration = .init(), logger: Logger = Logger(label: "LWSKit.redis")) throws {
        try self.init(endpoint: RedisEndpoint(url: url), configuration: configuration, logger: logger)
    }

    /// Whether both connections to Redis are up now (messages cross nodes).
    public var isConnected: Bool { status.isConnected }

    /// What the broker has carried so far; from any thread.
    public var statistics: Statistics { status.snapshot }

    // MARK: TopicBroker

    /// The limits from the configuration.
    public var limits: TopicBrokerLimits { configuration.limits }

    /// Starts the broker's thread; with `requiresConnectionAtStart`, connects first.
    /// - Throws: `LWSError.brokerUnavailable` when Redis cannot be reached (and the
    ///   configuration requires it) or no thread can be started; `.invalidArgument` when the
    ///   broker already serves a server.
    public func start(delivering deliver: @escaping @Sendable (String, Message) -> Void) throws {
        try thread.withLock { phase in
            guard case .idle = phase else { throw LWSError.invalidArgument("a RedisTopicBroker serves one server, once") }
            var connected: (subscriber: RedisConnection, publisher: RedisConnection)?
            if configuration.requiresConnectionAtStart {
                do {
                    connected = try RedisBrokerLoop.connect(to: endpoint, timeout: configuration.connectTimeout)
                } catch {
                    throw LWSError.brokerUnavailable(reason: "cannot reach Redis at \(endpoint): \(error)")
                }
                logger.info("connected to Redis", metadata: ["redis": "\(endpoint)", "node": "\(configuration.nodeName)"])
            }
            let loop = RedisBrokerLoop(
                endpoint: endpoint, configuration: configuration, inbox: inbox, status: status, node: node,
                deliver: deliver, logger: logger, connected: connected)
            do {
                phase = .running(try LoopThread(role: "the Redis broker's thread", name: "lwskit-redis") { loop.run() })
            } catch {
                throw LWSError.brokerUnavailable(reason: "\(error)")
            }
        }
    }

    /// Queues the channel's subscription for the broker's thread.
    public func subscribe(to topic: String) {
        inbox.post(.subscribe(topic))
    }

    /// Queues the channel's unsubscription for the broker's thread.
    public func unsubscribe(from topic: String) {
        inbox.post(.unsubscribe(topic))
    }

    /// Queues `message` for Redis, in an envelope; dropped (and counted) when the broker's
    /// thread already has `maxUnsentBytes` waiting.
    public func publish(_ message: Message, to topic: String) {
        if !inbox.post(.publish(topic: topic, envelope: BrokerEnvelope.encode(message, from: node))) {
            status.dropped()
        }
    }

    /// Ends the broker's thread and closes its connections; waits for the thread.
    public func stop() {
        let running = thread.withLock { phase -> LoopThread? in
            defer { phase = .stopped }
            if case .running(let thread) = phase { return thread }
            return nil
        }
        inbox.stop()
        running?.join()
    }
}
