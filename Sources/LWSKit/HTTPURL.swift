/// A parsed `http://` or `https://` URL: what an HTTP request needs to reach a server.
public struct HTTPURL: Sendable, Hashable, CustomStringConvertible {
    /// The URL schemes the HTTP client can use.
    public enum Scheme: String, Sendable {
        /// Plain HTTP, default port 80.
        case http
        /// HTTP over TLS, default port 443.
        case https
    }

    private let parts: URLParts

    /// Parses a URL such as `https://localhost:28709/echo?x=1`.
    /// - Parameter string: The URL text.
    /// - Throws: `LWSError.invalidURL` saying what is wrong: scheme, host, port or characters.
    public init(_ string: String) throws {
        parts = try URLParts(string, defaultPorts: ["http": 80, "https": 443])
    }

    /// The scheme.
    public var scheme: Scheme { Scheme(rawValue: parts.scheme)! }
    /// Whether the request uses TLS (`https`).
    public var isSecure: Bool { scheme == .https }
    /// The host name or address; an IPv6 address without brackets.
    public var host: String { parts.host }
    /// The TCP port (the scheme's default when the URL names none).
    public var port: Int { parts.port }
    /// The path and query sent in the request line; "/" when the URL has none.
    public var path: String { parts.path }
    /// The value of the `Host` header.
    var hostHeader: String { parts.hostHeader }

    /// The URL in canonical form, e.g. `https://localhost:28709/`.
    public var description: String { parts.description }
}
