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
