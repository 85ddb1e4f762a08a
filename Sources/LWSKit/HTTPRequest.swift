/// An HTTP request as a route handler receives it (complete, body included), and a WebSocket
/// opening handshake as `shouldUpgrade` and `WebSocketConnection.request` show it (no body).
public struct HTTPRequest: Sendable {
    /// The method, upper case: "GET", "POST", …
    public var method: String
    /// The path, percent-decoded and normalised by libwebsockets, without the query.
    public var path: String
    /// The query string without the "?", or nil when the URL had none.
    public var query: String?
    /// The request's header fields that libwebsockets parses (the standard ones), and the
    /// server's `HTTPServerConfiguration.customHeaderNames`.
    public var headers: HTTPHeaders
    /// The whole body, at most the server's `maxRequestBodySize`; empty for GET.
    public var body: [UInt8]
    /// "address:port" of the client.
    public var peer: String
    /// Whether the request came over TLS (`https://`, `wss://`).
    public var isSecure: Bool
    /// What the matched route's pattern captured: `["room": "a"]` for "/rooms/a" and
    /// "/rooms/:room", the rest under "*" for a pattern ending in `*`. Empty otherwise.
    public var pathParameters: [String: String] = [:]

    /// Creates a request (for tests of handlers; the server builds the real ones).
    public init(
        method: String, path: String, query: String? = nil, headers: HTTPHeaders = [:], body: [UInt8] = [], peer: String = "",
        isSecure: Bool = false
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.peer = peer
        self.isSecure = isSecure
    }

    /// The query's `name=value` pairs in order (libwebsockets has percent-decoded them); a
    /// pair without "=" has an empty value.
    public var queryItems: [(name: String, value: String)] {
        guard let query else { return [] }
        return query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
    }

    /// The value of the first query item named `name`, or nil.
    public func queryValue(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }

    /// The cookies of the `cookie` header, by name (the first of a name wins).
    public var cookies: [String: String] {
        guard let header = headers["cookie"] else { return [:] }
        var cookies: [String: String] = [:]
        for pair in header.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0].trimmingSpaces
            guard !name.isEmpty, cookies[name] == nil else { continue }
            cookies[name] = parts.count > 1 ? parts[1].trimmingSpaces : ""
        }
        return cookies
    }

    /// The subprotocols a WebSocket handshake offers (`sec-websocket-protocol`), in order.
    public var offeredSubprotocols: [String] {
        headers["sec-websocket-protocol"].map(Self.subprotocolNames) ?? []
    }

    /// The names in a `sec-websocket-protocol` value: RFC 6455's comma-separated tokens.
    static func subprotocolNames(in header: String) -> [String] {
        header.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
