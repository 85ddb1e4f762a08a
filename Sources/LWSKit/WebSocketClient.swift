import Logging

/// A WebSocket client: one libwebsockets context, serviced by its own thread, from which any
/// number of connections are opened.
///
/// ```swift
/// let client = try WebSocketClient()
/// let connection = try client.connect(to: "ws://127.0.0.1:28709/", subprotocol: "daniel") { connection, event in
///     switch event {
///     case .established: try? connection.send(.text("hello"))
///     case .message(let reply): print(reply)
///     case .connectionError(let error): print(error)
///     case .closed, .writeable, .pong: break
///     }
/// }
/// ```
/// Host names are resolved on the client's thread (this libwebsockets build has no
/// asynchronous DNS): a slow lookup delays the client's other connections.
public final class WebSocketClient: Sendable {
    /// The configuration the client was created with.
    public let configuration: WebSocketClientConfiguration
    let loop: ServiceLoop

    /// The client's service thread as an executor: tasks that prefer it and actors isolated to
    /// it run where the connections are served, without a thread hop per message.
    public let executor: LoopExecutor

    /// Creates a client and starts its thread.
    /// - Parameters:
    ///   - configuration: Limits for its connections.
    ///   - logger: Receives LWSKit's and libwebsockets' log lines. Default: label "LWSKit".
    /// - Throws: `LWSError.invalidConfiguration`, or `.contextCreationFailed`.
    public init(configuration: WebSocketClientConfiguration = .init(), logger: Logger = Logger(label: "LWSKit")) throws {
        try configuration.validate()
        self.configuration = configuration
        self.loop = ServiceLoop(
            settings: LoopSettings(
                protocolNames: [ServiceLoop.clientProtocolName], limits: configuration.limits, keepalive: configuration.keepalive,
                permessageDeflate: configuration.permessageDeflate,
                role: .client(ClientLoopSettings(kind: .webSocket, tls: configuration.tls, handshakeTimeout: configuration.handshakeTimeout))
            ),
            logger: logger
        )
        executor = loop.executor
        try loop.start()
    }

    /// Opens a connection. Returns at once; the outcome reaches `handler` as `.established` or
    /// `.connectionError`. Messages sent before the handshake completes are queued.
    /// - Parameters:
    ///   - url: A `ws://` or `wss://host[:port][/path]` URL.
    ///   - subprotocol: The subprotocol to ask for ("daniel"), or nil for none.
    ///   - headers: More header fields for the opening handshake (`authorization`, `cookie`,
    ///     `origin`). Default none. The handshake's own fields (host, upgrade, connection,
    ///     sec-websocket-*) are LWSKit's and may not be given.
    ///   - handler: Receives the connection's events on the client's thread. A server that
    ///     answers the handshake with a status instead of upgrading is reported as
    ///     `.connectionError(.handshakeRefused(...))`.
    /// - Returns: The connection, usable at once.
    /// - Throws: `LWSError.invalidURL`, `.invalidArgument` for a bad subprotocol name or header,
    ///   `.notRunning` after `shutdown()`.
    @discardableResult
    public func connect(
        to url: String, subprotocol: String? = nil, headers: HTTPHeaders = [:], handler: @escaping WebSocketHandler
    ) throws -> WebSocketConnection {
        let target = try WebSocketURL(url)
        if let subprotocol, !WebSocketProtocol.isValidName(subprotocol) {
            throw LWSError.invalidArgument("subprotocol '\(subprotocol)' is not a valid token")
        }
        for field in headers {
            guard HTTPHeaders.isValid(name: field.name, value: field.value) else {
                throw LWSError.invalidArgument("header '\(field.name)' is not a valid field name and value")
            }
            let name = field.name.lowercased()
            guard !["host", "upgrade", "connection", "content-length"].contains(name), !name.hasPrefix("sec-websocket-") else {
                throw LWSError.invalidArgument("header '\(field.name)' belongs to the opening handshake LWSKit sends")
            }
        }
        let connection = WebSocketConnection(
            loop: loop, handler: handler, peer: "\(target.hostHeader)", url: target.description, request: nil, context: nil,
            handshakeHeaders: headers
        )
        try loop.execute { [loop] in loop.connectClient(connection, to: target, subprotocol: subprotocol) }
        return connection
    }

    /// Opens a connection and returns it once established; read its messages with
    /// `for try await message in connection.messages`.
    /// - Parameters:
    ///   - url: A `ws://` or `wss://host[:port][/path]` URL.
    ///   - subprotocol: The subprotocol to ask for ("daniel"), or nil for none.
    ///   - headers: More header fields for the opening handshake, as for the handler style.
    /// - Returns: The established connection.
    /// - Throws: `LWSError.handshakeRefused` with the status when the server answered with one
    ///   instead of upgrading; `.connectionFailed` with the reason (refused, TLS verification,
    ///   handshake failed), `.invalidURL`, `.invalidArgument`, `.notRunning`.
    public func connect(to url: String, subprotocol: String? = nil, headers: HTTPHeaders = [:]) async throws -> WebSocketConnection {
        let pending = LockedValue<CheckedContinuation<WebSocketConnection, Error>?>(nil)
        let take: @Sendable () -> CheckedContinuation<WebSocketConnection, Error>? = {
            pending.withLock { continuation in
                defer { continuation = nil }
                return continuation
            }
        }
        return try await withCheckedThrowingContinuation { continuation in
            pending.withLock { $0 = continuation }
            let handler = StreamingHandler.make(
                onEstablished: { take()?.resume(returning: $0) },
                onEndedBeforeEstablished: { take()?.resume(throwing: $0) }
            )
            do {
                try connect(to: url, subprotocol: subprotocol, headers: headers, handler: handler)
            } catch {
                take()?.resume(throwing: error)
            }
        }
    }

    /// A client dropped without a shutdown stops its loop (closing its connections) rather than
    /// leaving the thread running with nothing able to stop it.
    deinit {
        loop.requestStop(grace: .zero)
    }

    /// Closes every connection with 1001 (going away), waits up to `grace`, then ends the
    /// client's thread. Blocks until then. Safe to call more than once.
    /// - Parameter grace: The longest wait for connections to close. Default 5 seconds.
    public func syncShutdown(grace: Duration = .seconds(5)) {
        loop.requestStop(grace: grace)
        loop.waitUntilFinished()
    }

    /// Like `syncShutdown(grace:)`, suspending instead of blocking the caller's thread.
    /// - Parameter grace: The longest wait for connections to close. Default 5 seconds.
    public func shutdown(grace: Duration = .seconds(5)) async {
        loop.requestStop(grace: grace)
        await loop.ended()
        loop.waitUntilFinished()
    }
}
