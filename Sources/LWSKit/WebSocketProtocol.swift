/// A handler for the events of one connection.
///
/// It runs on the service loop's thread: it may call any method of the connection directly
/// (they do not hop threads there) and must not block.
public typealias WebSocketHandler = @Sendable (WebSocketConnection, WebSocketEvent) -> Void

/// One entry of a server's protocol table: a WebSocket subprotocol name and how its connections
/// are served, like an entry of libwebsockets' `lws_protocols` array.
public struct WebSocketProtocol: Sendable {
    /// How the connections of a protocol reach the application.
    enum Delivery: Sendable {
        /// Every event goes to this handler (the callback style).
        case handler(WebSocketHandler)
        /// Connections arrive on `WebSocketServer.connections`; messages on `connection.messages`.
        case streaming
    }

    /// The subprotocol name matched against `Sec-WebSocket-Protocol`, e.g. "daniel".
    public let name: String
    let delivery: Delivery
    /// The path pattern handshakes for this protocol must match ("/rooms/:room", "/ws/*"; see
    /// `HTTPRoute.path`); its parameters reach `shouldUpgrade` and `connection.request` as
    /// `pathParameters`. nil (the default) serves every path.
    public let path: String?
    /// Decides each handshake bound for this protocol (after the origin policy); nil accepts
    /// every one.
    let shouldUpgrade: UpgradeDecider?

    /// Creates a protocol table entry whose events go to `handler`.
    /// - Parameters:
    ///   - name: The subprotocol name: non-empty printable ASCII without separators (RFC 6455 token).
    ///   - path: The path pattern this protocol is served at; nil (the default) for every path.
    ///     A handshake whose path no protocol serves is answered 404.
    ///   - shouldUpgrade: Sees each opening handshake for this protocol and accepts it (with
    ///     response headers and a per-connection context) or refuses it with an HTTP response.
    ///     Default nil: every handshake is accepted.
    ///   - handler: Receives the events of every connection that negotiated `name`.
    public init(
        name: String, path: String? = nil, shouldUpgrade: WebSocketUpgradeDecider? = nil, handler: @escaping WebSocketHandler
    ) {
        self.init(name: name, path: path, delivery: .handler(handler), shouldUpgrade: shouldUpgrade.map(UpgradeDecider.immediate))
    }

    /// Creates a protocol table entry whose handshakes are decided by an `async` function (a
    /// token looked up in a database), and whose events go to `handler`. The connection is
    /// upgraded first and held, reading paused, until the decision: see
    /// `AsyncWebSocketUpgradeDecider` for what a refusal looks like to the client then.
    /// - Parameters:
    ///   - name: The subprotocol name (an RFC 6455 token).
    ///   - path: The path pattern this protocol is served at; nil for every path.
    ///   - shouldUpgrade: Accepts (with a per-connection context) or refuses each handshake.
    ///   - handler: Receives the events of every accepted connection, from `.established` on.
    public init(
        name: String, path: String? = nil, shouldUpgrade: @escaping AsyncWebSocketUpgradeDecider, handler: @escaping WebSocketHandler
    ) {
        self.init(name: name, path: path, delivery: .handler(handler), shouldUpgrade: .deferred(shouldUpgrade))
    }

    /// Creates a protocol table entry for the async style: its connections arrive on
    /// `WebSocketServer.connections` and their messages on `connection.messages`.
    /// - Parameters:
    ///   - name: The subprotocol name (an RFC 6455 token).
    ///   - path: The path pattern this protocol is served at; nil for every path.
    ///   - shouldUpgrade: Accepts or refuses each opening handshake, as for the handler style.
    public static func streaming(name: String, path: String? = nil, shouldUpgrade: WebSocketUpgradeDecider? = nil) -> WebSocketProtocol {
        WebSocketProtocol(name: name, path: path, delivery: .streaming, shouldUpgrade: shouldUpgrade.map(UpgradeDecider.immediate))
    }

    /// Creates a protocol table entry for the async style whose handshakes are decided by an
    /// `async` function; see `AsyncWebSocketUpgradeDecider`. An accepted connection arrives on
    /// `WebSocketServer.connections` once decided; a refused one never does.
    /// - Parameters:
    ///   - name: The subprotocol name (an RFC 6455 token).
    ///   - path: The path pattern this protocol is served at; nil for every path.
    ///   - shouldUpgrade: Accepts (with a per-connection context) or refuses each handshake.
    public static func streaming(name: String, path: String? = nil, shouldUpgrade: @escaping AsyncWebSocketUpgradeDecider) -> WebSocketProtocol {
        WebSocketProtocol(name: name, path: path, delivery: .streaming, shouldUpgrade: .deferred(shouldUpgrade))
    }

    private init(name: String, path: String?, delivery: Delivery, shouldUpgrade: UpgradeDecider?) {
        self.name = name
        self.path = path
        self.delivery = delivery
        self.shouldUpgrade = shouldUpgrade
    }

    /// Whether `name` is a valid RFC 6455 subprotocol token.
    static func isValidName(_ name: String) -> Bool {
        let separators = Set("()<>@,;:\\\"/[]?={} \t".utf8)
        return !name.isEmpty && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !separators.contains($0) }
    }
}
