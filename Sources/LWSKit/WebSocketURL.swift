/// A parsed `ws://` or `wss://` URL: what a client connection needs to reach a server.
public struct WebSocketURL: Sendable, Hashable, CustomStringConvertible {
    /// The URL schemes a WebSocket client can connect with.
    public enum Scheme: String, Sendable {
        /// Plain WebSocket, default port 80.
        case ws
        /// WebSocket over TLS, default port 443.
        case wss
    }

    private let parts: URLParts

    /// Parses a URL such as `ws://127.0.0.1:28709/chat?room=1` or `wss://localhost:28709/`.
    /// - Parameter string: The URL text.
    /// - Throws: `LWSError.invalidURL` saying what is wrong: scheme, host, port or characters.
    public init(_ string: String) throws {
        parts = try URLParts(string, defaultPorts: ["ws": 80, "wss": 443])
    }

    /// The scheme.
    public var scheme: Scheme { Scheme(rawValue: parts.scheme)! }
    /// Whether the connection uses TLS (`wss`).
    public var isSecure: Bool { scheme == .wss }
    /// The host name or address; an IPv6 address without brackets.
    public var host: String { parts.host }
    /// The TCP port (the scheme's default when the URL names none).
    public var port: Int { parts.port }
    /// The path and query sent in the request line; "/" when the URL has none.
    public var path: String { parts.path }
    /// The value of the `Host` header: host, bracketed if IPv6, with the port unless default.
    var hostHeader: String { parts.hostHeader }

    /// The URL in canonical form, e.g. `ws://127.0.0.1:28709/`.
    public var description: String { parts.description }
}
