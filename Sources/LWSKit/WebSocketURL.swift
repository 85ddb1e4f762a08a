/// A parsed `ws://` URL: what a client connection needs to reach a server.
public struct WebSocketURL: Sendable, Hashable, CustomStringConvertible {
    /// The URL schemes a client can connect with.
    public enum Scheme: String, Sendable {
        /// Plain WebSocket, default port 80.
        case ws
    }

    /// The scheme.
    public let scheme: Scheme
    /// The host name or address; an IPv6 address without brackets.
    public let host: String
    /// The TCP port (the scheme's default when the URL names none).
    public let port: Int
    /// The path and query sent in the request line; "/" when the URL has none.
    public let path: String

    /// Parses a URL such as `ws://127.0.0.1:28709/chat?room=1`.
    /// - Parameter string: The URL text.
    /// - Throws: `LWSError.invalidURL` saying what is wrong: scheme, host, port or characters.
    public init(_ string: String) throws {
        func fail(_ reason: String) -> LWSError { .invalidURL(string, reason: reason) }
        guard let schemeEnd = string.firstRange(of: "://") else { throw fail("expected ws://host[:port][/path]") }
        let schemeText = string[..<schemeEnd.lowerBound].lowercased()
        guard let scheme = Scheme(rawValue: schemeText) else {
            if schemeText == "wss" { throw fail("wss:// (TLS) is not supported yet; use ws://") }
            throw fail("unsupported scheme '\(schemeText)'; use ws://")
        }
        guard string.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw fail("contains spaces, control or non-ASCII characters (percent-encode them)")
        }
        let rest = string[schemeEnd.upperBound...]
        let authorityTerminators: Set<Character> = ["/", "?", "#"]
        let authorityEnd = rest.firstIndex(where: authorityTerminators.contains) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = String(rest[authorityEnd...])
        if let fragment = path.firstIndex(of: "#") { path = String(path[..<fragment]) }
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        guard !authority.contains("@") else { throw fail("user information in the URL is not supported") }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw fail("unterminated IPv6 address") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let afterHost = authority[authority.index(after: close)...]
            if !afterHost.isEmpty {
                guard afterHost.hasPrefix(":") else { throw fail("unexpected text after the IPv6 address") }
                portText = afterHost.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw fail("no host") }
        var port = 80
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw fail("port '\(portText)' is not a number in 1...65535")
            }
            port = value
        }
        self.scheme = scheme
        self.host = String(host)
        self.port = port
        self.path = path
    }

    /// The value of the `Host` header: host, bracketed if IPv6, with the port unless default.
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == 80 ? name : "\(name):\(port)"
    }

    /// The URL in canonical form, e.g. `ws://127.0.0.1:28709/`.
    public var description: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return "\(scheme.rawValue)://\(name):\(port)\(path)"
    }
}
