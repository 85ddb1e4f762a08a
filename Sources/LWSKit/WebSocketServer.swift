import Logging

/// A WebSocket server: libwebsockets contexts serving one port, each on a thread of its own
/// (one by default; see `WebSocketServerConfiguration.serviceThreads`), dispatching each
/// connection's events to the handler of its protocol on the thread of its loop. The same port
/// answers HTTP (static mounts and routes from `configuration.http`, 404 otherwise), and with
/// `configuration.tls` it speaks only TLS: `wss://` and `https://`, HTTP/2 through ALPN.
///
/// ```swift
/// let echo = WebSocketProtocol(name: "daniel") { connection, event in
///     if case .message(let message) = event { try? connection.send(message) }
/// }
/// let server = try WebSocketServer(configuration: .init(port: 28709, protocols: [echo]))
/// try server.start()
/// // ...
/// await server.shutdown()
/// ```
public final class WebSocketServer: Sendable {
    /// The configuration the server was created with.
    public let configuration: WebSocketServerConfiguration
    let loops: ServiceLoopGroup
    private let started = LockedValue(false)

    /// The executor of the server's first service thread. With one thread (the default) every
    /// connection is served there: tasks that prefer it and actors isolated to it run next to
    /// the connections, without a thread hop per message. With several, each connection's own
    /// `WebSocketConnection.executor` is the one next to it; this one suits server-wide state
    /// (an actor all loops talk to, with a hop from the other threads).
    public var executor: LoopExecutor { loops.loops[0].executor }

    /// The established connections of the server's streaming protocols
    /// (`WebSocketProtocol.streaming`), in the order they were established. It ends when the
    /// server shuts down. One task at a time should iterate it.
    public let connections: AsyncStream<WebSocketConnection>

    /// Creates a server; nothing listens until `start()`.
    /// - Parameters:
    ///   - configuration: Address, protocol table and limits.
    ///   - logger: Receives LWSKit's and libwebsockets' log lines. Default: label "LWSKit".
    /// - Throws: `LWSError.invalidConfiguration` naming what is wrong.
    public init(configuration: WebSocketServerConfiguration, logger: Logger = Logger(label: "LWSKit")) throws {
        try configuration.validate()
        self.configuration = configuration
        let (connections, newConnections) = AsyncStream.makeStream(of: WebSocketConnection.self)
        self.connections = connections
        let announcer = ConnectionAnnouncer(newConnections)
        let announce = StreamingHandler.make(onEstablished: { announcer.announce($0) })
        self.loops = ServiceLoopGroup(
            count: configuration.serviceThreads.resolved,
            settings: LoopSettings(
                protocolNames: configuration.protocols.map(\.name),
                limits: configuration.limits,
                keepalive: configuration.keepalive,
                permessageDeflate: configuration.permessageDeflate,
                role: .server(ServerLoopSettings(
                    handlers: configuration.protocols.map { entry in
                        switch entry.delivery {
                        case .handler(let handler): handler
                        case .streaming: announce
                        }
                    },
                    limits: configuration.serverLimits,
                    tls: configuration.tls,
                    http: configuration.http,
                    origins: configuration.origins,
                    slowSubscribers: configuration.slowSubscribers,
                    upgradeDeciders: configuration.protocols.map(\.shouldUpgrade),
                    webSocketPaths: configuration.protocols.map { $0.path.flatMap(PathPattern.init) }
                ))
            ),
            host: configuration.host,
            port: configuration.port,
            broker: configuration.topicBroker,
            logger: logger,
            onEnded: { announcer.finish() }
        )
    }

    /// Starts listening and serving on the server's own thread. Returns once the port is bound.
    /// - Throws: `LWSError.listenFailed` (e.g. "address already in use") or
    ///   `.contextCreationFailed`; `.invalidArgument` if called twice.
    public func start() throws {
        try started.withLock { started in
            guard !started else { throw LWSError.invalidArgument("the server was already started") }
            started = true
        }
        try loops.start()
        loops.loops[0].logger.info("listening", metadata: [
            "host": "\(configuration.host ?? "*")", "port": "\(port)", "threads": "\(loops.loops.count)",
        ])
    }

    /// The port the server listens on: the configured one, or the one the system chose for 0.
    public var port: Int { loops.port }

    /// What each service thread has done so far, in thread order: connections now and in all,
    /// messages and bytes each way. Readable from any thread at any time.
    public var statistics: [LoopStatistics] { loops.statistics }

    /// A server dropped without a shutdown stops its loop (closing its connections) rather than
    /// leaving the thread running with nothing able to stop it.
    deinit {
        loops.requestStop(grace: .zero)
    }

    /// Closes every connection with 1001 (going away) on every service thread, waits up to
    /// `grace` for the closing handshakes, then frees everything and ends (and joins) the
    /// server's threads. Blocks until then.
    /// Safe to call more than once and from any thread except a handler's.
    /// - Parameter grace: The longest wait for connections to close. Default 5 seconds.
    public func syncShutdown(grace: Duration = .seconds(5)) {
        guard started.withLock({ $0 }) else { return }
        loops.requestStop(grace: grace)
        loops.waitUntilFinished()
    }

    /// Like `syncShutdown(grace:)`, suspending instead of blocking the caller's thread.
    /// - Parameter grace: The longest wait for connections to close. Default 5 seconds.
    public func shutdown(grace: Duration = .seconds(5)) async {
        guard started.withLock({ $0 }) else { return }
        loops.requestStop(grace: grace)
        await loops.ended()
        loops.waitUntilFinished()
    }

    /// Blocks until the server has been shut down (by another thread or a signal handler).
    public func waitUntilShutdown() {
        guard started.withLock({ $0 }) else { return }
        loops.waitUntilFinished()
    }
}
