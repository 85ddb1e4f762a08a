/// What happened on a WebSocket connection: the events libwebsockets reports, as Swift values.
///
/// Events of one connection are delivered in order, on the service loop's thread, to the handler
/// of the protocol the connection is bound to. A handler must return promptly: while it runs, no
/// other connection of that server or client is served.
public enum WebSocketEvent: Sendable, Equatable {
    /// The handshake completed (lws `ESTABLISHED` / `CLIENT_ESTABLISHED`).
    case established
    /// A whole message arrived (lws `RECEIVE` / `CLIENT_RECEIVE`, reassembled and copied).
    case message(Message)
    /// The connection can take more data and the handler asked for this event with
    /// `WebSocketConnection.requestWriteable()` (lws `SERVER_WRITEABLE` / `CLIENT_WRITEABLE`).
    /// Everything queued earlier with `send` has been handed to the socket by then.
    case writeable
    /// A pong with a non-empty payload arrived, e.g. the answer to `WebSocketConnection.ping`
    /// (lws `RECEIVE_PONG` / `CLIENT_RECEIVE_PONG`; lws 4.1 does not report empty pongs, which
    /// includes the answers to its own keepalive pings).
    case pong([UInt8])
    /// A client connection could not be established (lws `CLIENT_CONNECTION_ERROR`).
    /// No other event follows.
    case connectionError(LWSError)
    /// The connection closed (lws `CLOSED` / `CLIENT_CLOSED`). `code` is the peer's close code,
    /// or the one this side sent, or `.abnormalClosure` (1006) when the connection was lost.
    /// No other event follows.
    case closed(CloseCode, reason: String)
}

/// How a WebSocket connection ended: what its last event said, kept on the connection
/// (`WebSocketConnection.termination`) for code that reads `messages` and sees only its end.
public enum WebSocketTermination: Sendable, Equatable {
    /// The connection closed with this code and reason (the peer's, or the one this side sent,
    /// or `.abnormalClosure` when it was lost), as in `WebSocketEvent.closed`.
    case closed(CloseCode, reason: String)
    /// The connection could not be established, as in `WebSocketEvent.connectionError`.
    case failed(LWSError)
}
