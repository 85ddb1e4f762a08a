/// A handler for the events of one connection.
///
/// It runs on the service loop's thread: it may call any method of the connection directly
/// (they do not hop threads there) and must not block.
public typealias WebSocketHandler = @Sendable (WebSocketConnection, WebSocketEvent) -> Void

/// One entry of a server's protocol table: a WebSocket subprotocol name and its handler,
/// like an entry of libwebsockets' `lws_protocols` array.
public struct WebSocketProtocol: Sendable {
    /// The subprotocol name matched against `Sec-WebSocket-Protocol`, e.g. "daniel".
    public let name: String
    /// The handler that receives the events of every connection bound to this protocol.
    public let handler: WebSocketHandler

    /// Creates a protocol table entry.
    /// - Parameters:
    ///   - name: The subprotocol name: non-empty printable ASCII without separators (RFC 6455 token).
    ///   - handler: Receives the events of every connection that negotiated `name`.
    public init(name: String, handler: @escaping WebSocketHandler) {
        self.name = name
        self.handler = handler
    }

    /// Whether `name` is a valid RFC 6455 subprotocol token.
    static func isValidName(_ name: String) -> Bool {
        let separators = Set("()<>@,;:\\\"/[]?={} \t".utf8)
        return !name.isEmpty && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !separators.contains($0) }
    }
}
