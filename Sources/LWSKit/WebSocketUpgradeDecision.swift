/// What a server decides about a WebSocket opening handshake, given its request (see
/// `WebSocketProtocol`'s `shouldUpgrade`).
public enum WebSocketUpgradeDecision: Sendable {
    /// Upgrade the connection. `headers` are added to the `101 Switching Protocols` answer
    /// (e.g. `set-cookie`); `context` becomes the connection's `WebSocketConnection.context`,
    /// the Swift form of libwebsockets' per-session data.
    case accept(headers: HTTPHeaders = [:], context: (any Sendable)? = nil)
    /// Answer with `response` (its status, headers and body reach the client as they are, with
    /// `content-length` and `connection: close` added) and close the connection: no
    /// WebSocket, no events.
    case refuse(HTTPResponse)

    /// Upgrade, with nothing added.
    public static var accept: WebSocketUpgradeDecision { .accept(headers: [:], context: nil) }

    /// Refuse with `status` and a plain-text `reason` as the body.
    public static func refuse(status: Int, reason: String) -> WebSocketUpgradeDecision {
        .refuse(HTTPResponse(status: status, text: reason + "\n"))
    }
}

/// Decides whether a WebSocket opening handshake is upgraded. It runs on the service loop's
/// thread, before any other event of the connection, and must return promptly.
public typealias WebSocketUpgradeDecider = @Sendable (HTTPRequest) -> WebSocketUpgradeDecision

/// Decides whether a WebSocket opening handshake is upgraded, taking its time (a token looked
/// up in a database): it runs as a task off the service loop, which goes on serving every other
/// connection meanwhile.
///
/// libwebsockets 4.1.6 cannot hold an upgrade request open while an answer is pending: at
/// `HTTP_CONFIRM_UPGRADE` the server must answer at once. So a handshake bound for an `async`
/// decision is upgraded (`101`) first, with reading paused and no event delivered:
/// - accepted: the connection is established with the decision's `context` (its `headers`
///   cannot be added to a `101` that was sent; they are dropped with a warning), and what the
///   peer sent meanwhile is read from then on, in order;
/// - refused: the connection is closed with 1008 (policy violation) and the response's status
///   and reason phrase as the close reason ("401 Unauthorized"); the application never hears of
///   it. A client sees an established connection closed with 1008, not an HTTP status;
/// - not decided within `ServerLimits.handshakeTimeout`: closed with 1011 (internal error)
///   and the task cancelled; also cancelled when the peer goes away first, and when the server
///   shuts down (which closes the connection with 1001 and does not wait for the task to end:
///   cancellation reaches the task on its own executor, soon after).
///
/// Path routing, the origin policy and limits are still applied before the upgrade, with their
/// HTTP statuses. Use a synchronous `WebSocketUpgradeDecider` when the answer is at hand: it
/// can refuse with a real HTTP status and add response headers.
public typealias AsyncWebSocketUpgradeDecider = @Sendable (HTTPRequest) async -> WebSocketUpgradeDecision

/// A protocol's upgrade decider, of either kind.
enum UpgradeDecider: Sendable {
    /// Decides at `HTTP_CONFIRM_UPGRADE`, on the loop thread.
    case immediate(WebSocketUpgradeDecider)
    /// Decides in a task after the upgrade (see `AsyncWebSocketUpgradeDecider`).
    case deferred(AsyncWebSocketUpgradeDecider)
}
