import Logging
import Synchronization

/// One WebSocket connection, server or client side.
///
/// Every method is safe to call from any thread or task: off the service loop's thread the work
/// goes through the loop's inbox; on it (inside a handler) it happens at once. Once the connection
/// has closed, every method throws `LWSError.connectionClosed`; the object itself stays valid.
public final class WebSocketConnection: Sendable {
    /// A number unique to this connection within the process, for logs.
    public let id: UInt64
    /// The remote address ("127.0.0.1:54321") for server connections, "host:port" for clients.
    public let peer: String

    /// A server connection's opening handshake: path, query, headers, cookies, peer, whether
    /// it came over TLS. nil for client connections.
    public let request: HTTPRequest?

    /// What the server's `shouldUpgrade` accepted this connection with
    /// (`WebSocketUpgradeDecision.accept(headers:context:)`): per-connection state fixed at the
    /// handshake, readable in every event without a lock. nil when none was given, and for
    /// client connections. Read it as its type with `context(as:)`.
    ///
    /// (Written once, on the loop thread, before `.established` is delivered or the connection
    /// reaches `WebSocketServer.connections`: an `async` decision returns after the connection
    /// object exists. Nothing reads it earlier, and both ways of handing the connection out
    /// order that write before every read.)
    public internal(set) nonisolated(unsafe) var context: (any Sendable)?

    /// A client connection's handshake answer from the server: the header fields lws parses
    /// (the standard ones: `set-cookie`, `server`, ...), once established; nil before that,
    /// and for server connections.
    public var responseHeaders: HTTPHeaders? { state.shared.withLock { $0.responseHeaders } }

    /// `context` as a `T`, or nil when it is not one.
    public func context<T: Sendable>(as type: T.Type) -> T? { context as? T }

    /// The subprotocol both sides agreed on, once established; nil if the server chose none.
    public var subprotocol: String? { state.shared.withLock { $0.subprotocol } }

    /// Bytes accepted by `send` that have not been handed to the socket yet, like the browser
    /// API's `bufferedAmount`. Above `WebSocketLimits.sendHighWaterMark` a server connection
    /// stops reading from its peer until this falls to `sendLowWaterMark`.
    public var bufferedAmount: Int { state.bufferedBytes.load(ordering: .relaxed) }

    let loop: ServiceLoop
    /// The limits of every connection of its server or client.
    var limits: WebSocketLimits { loop.settings.limits }
    /// Whether this side opened the connection (its frames are masked).
    var isClient: Bool { url != nil }
    /// Whether reading pauses while too much waits to be sent: server connections only.
    var pausesReadingWhenBacklogged: Bool { !isClient }
    let handler: WebSocketHandler
    let state: ConnectionState
    /// The loop's logger with this connection's number as metadata, made when used: a
    /// connection seldom logs, and a stored copy cost every idle connection an allocation.
    var logger: Logger {
        var logger = loop.logger
        logger[metadataKey: "connection"] = "\(id)"
        return logger
    }
    /// The URL a client connection was made to, for error messages; nil for server connections.
    let url: String?
    /// What a client adds to its opening handshake (`connect(to:subprotocol:headers:)`).
    let handshakeHeaders: HTTPHeaders

    private static let nextID = Atomic<UInt64>(1)
    /// Numbers the tasks waiting in `sendWithBackpressure` for room.
    static let nextTicket = Atomic<UInt64>(1)

    init(
        loop: ServiceLoop, handler: @escaping WebSocketHandler, peer: String, url: String?,
        request: HTTPRequest?, context: (any Sendable)?, handshakeHeaders: HTTPHeaders
    ) {
        self.request = request
        self.context = context
        self.handshakeHeaders = handshakeHeaders
        self.id = Self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        self.loop = loop
        self.handler = handler
        self.peer = peer
        self.url = url
        self.state = ConnectionState(maxMessageSize: loop.settings.limits.maxMessageSize)
    }

    /// The executor of the service thread this connection lives on: its handler runs there, and
    /// a task that prefers it (or an actor isolated to it) calls the connection without a thread
    /// hop. On a server with several service threads, connections differ in this.
    public var executor: LoopExecutor { loop.executor }

    /// How the connection ended: the close code and reason, or why it could not be
    /// established; nil while it is open. Set before the last event is delivered, so code that
    /// reads `messages` can tell why the sequence ended, e.g. a client closed with 4401
    /// "invalid token" by its server.
    public var termination: WebSocketTermination? { state.shared.withLock { $0.termination } }

    /// Queues a whole message for sending, without waiting: from handlers, and to send one
    /// message to many connections. (`sendWithBackpressure(_:)` waits while the peer is behind.)
    ///
    /// The message is copied at once; it goes out after every message queued before it, and its
    /// fragments are never interleaved with another message's.
    /// - Parameter message: The text or binary message.
    /// - Throws: `LWSError.connectionClosed` once `close` was called or the connection ended;
    ///   `LWSError.sendBufferFull` if the message would take `bufferedAmount` past
    ///   `WebSocketLimits.maxBufferedBytes` (nothing is queued then; a single larger message is
    ///   accepted when nothing else is waiting);
    ///   `LWSError.notRunning` if the server or client was shut down.
    public func send(_ message: Message) throws {
        try enqueueFromAnyThread(message)
    }

    /// Counts, copies and queues `message` for the loop thread: the work of `send` and
    /// `sendWithBackpressure`.
    func enqueueFromAnyThread(_ message: Message) throws {
        try enqueueFromAnyThread(byteCount: message.byteCount) { OutboundMessage(message) }
    }

    /// Counts `count` bytes against the buffer limit, then copies (`makeOutbound`) and queues.
    private func enqueueFromAnyThread(byteCount count: Int, _ makeOutbound: () -> OutboundMessage) throws {
        guard state.acceptsSends.load(ordering: .acquiring) else { throw LWSError.connectionClosed }
        let buffered = state.bufferedBytes.wrappingAdd(count, ordering: .relaxed).newValue
        guard buffered <= limits.maxBufferedBytes || buffered == count else {
            state.bufferedBytes.wrappingSubtract(count, ordering: .relaxed)
            throw LWSError.sendBufferFull(limit: limits.maxBufferedBytes)
        }
        let outbound = makeOutbound()
        // On the loop thread (handlers, tasks on `loop.executor`) the message is queued at once,
        // without the closure `execute` would allocate for every message.
        guard !loop.isLoopThread else {
            enqueue(outbound)
            return
        }
        do {
            try loop.execute { [self] in enqueue(outbound) }
        } catch {
            state.bufferedBytes.wrappingSubtract(count, ordering: .relaxed)
            throw error
        }
    }

    /// Starts the closing handshake: messages already queued are sent first, then a close frame
    /// with `code` and `reason`. The handler receives `.closed` when it completes.
    /// - Parameters:
    ///   - code: A code an endpoint may send (1000–1003, 1007–1011, 3000–4999).
    ///   - reason: At most 123 bytes of UTF-8.
    /// - Throws: `LWSError.invalidArgument` for a code or reason the RFC forbids;
    ///   `LWSError.connectionClosed` if the connection is already closing or closed.
    public func close(code: CloseCode = .normalClosure, reason: String = "") throws {
        guard code.isSendable else {
            throw LWSError.invalidArgument("close code \(code) may not be sent (use 1000-1003, 1007-1011 or 3000-4999)")
        }
        guard reason.utf8.count <= 123 else {
            throw LWSError.invalidArgument("close reason is \(reason.utf8.count) bytes; at most 123 fit in a close frame")
        }
        guard state.acceptsSends.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged else {
            throw LWSError.connectionClosed
        }
        try loop.execute { [self] in beginClosing(code: code, reason: reason) }
    }

    /// Sends a ping; the peer's answer arrives as a `.pong` event with the same payload.
    /// It is queued behind messages already sent. libwebsockets 4.1 reports a pong only when
    /// its payload is non-empty, so give one to see the answer.
    /// - Parameter payload: At most 125 bytes.
    /// - Throws: `LWSError.invalidArgument` for a longer payload; `.connectionClosed` once the
    ///   connection is closing or closed.
    public func ping(_ payload: [UInt8] = []) throws {
        guard payload.count <= 125 else {
            throw LWSError.invalidArgument("a ping payload is at most 125 bytes, not \(payload.count)")
        }
        try enqueueFromAnyThread(byteCount: payload.count) { OutboundMessage(ping: payload) }
    }

    /// Asks for one `.writeable` event once everything queued has been handed to the socket,
    /// like `lws_callback_on_writable`. For producers that generate data as the socket drains.
    /// - Throws: `LWSError.connectionClosed` once the connection is closing or closed.
    public func requestWriteable() throws {
        guard state.acceptsSends.load(ordering: .acquiring) else { throw LWSError.connectionClosed }
        try loop.execute { [self] in wantWriteable() }
    }
}

extension WebSocketConnection: CustomStringConvertible {
    /// "connection 7 (127.0.0.1:54321)".
    public var description: String { "connection \(id) (\(peer))" }
}
