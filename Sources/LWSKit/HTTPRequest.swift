/// An HTTP request as a route handler receives it (complete, body included), and a WebSocket
/// opening handshake as `shouldUpgrade` and `WebSocketConnection.request` show it (no body).
public struct HTTPRequest: Sendable {
    /// The method, upper case: "GET", "POST", …
    public var method: String
    /// The path, percent-decoded and normalised by libwebsockets (`//`, `/./` and `/../`
    /// collapsed), without the query. libwebsockets 4.1.6 decodes the request target as it
    /// parses it and keeps no raw form: an encoded slash (`%2F`) is a slash here, so a path
    /// parameter cannot contain one.
    public var path: String
    /// The query without the "?", as its decoded items joined by "&" (for logs); nil when the
    /// URL had none. Read values with `queryItems` or `queryValue(_:)`: a decoded "&" inside a
    /// value makes this string ambiguous.
    public var query: String?
    /// The query's `name=value` items in order, percent-decoded, "+" read as a space; an item
    /// without "=" has an empty value. Items are separated by "&" or ";" (as libwebsockets
    /// splits them); an encoded `%26` stays inside its value.
    public var queryItems: [(name: String, value: String)]
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

    /// Creates a request (for tests of handlers; the server builds the real ones). `query` is
    /// the raw query without "?"; its items are decoded as the server decodes them.
    public init(
        method: String, path: String, query: String? = nil, headers: HTTPHeaders = [:], body: [UInt8] = [], peer: String = "",
        isSecure: Bool = false
    ) {
        self.init(method: method, path: path, decodedQueryItems: query.map(Self.decodedQueryItems) ?? [], headers: headers,
                  body: body, peer: peer, isSecure: isSecure)
    }

    /// A request whose query libwebsockets has split and decoded already (one item per
    /// fragment of its `URI_ARGS` token).
    init(
        method: String, path: String, decodedQueryItems: [String], headers: HTTPHeaders, body: [UInt8] = [], peer: String,
        isSecure: Bool
    ) {
        self.method = method
        self.path = path
        self.query = decodedQueryItems.isEmpty ? nil : decodedQueryItems.joined(separator: "&")
        self.queryItems = decodedQueryItems.map { item in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
        self.headers = headers
        self.body = body
        self.peer = peer
        self.isSecure = isSecure
    }

    /// A raw query's items, decoded as libwebsockets decodes them: split at "&" and ";", "+"
    /// as a space, `%XX` decoded (an invalid escape is kept as it is).
    static func decodedQueryItems(_ query: String) -> [String] {
        query.utf8.split(omittingEmptySubsequences: true) { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: ";") }.map { item in
            var bytes: [UInt8] = []
            var index = item.startIndex
            while index < item.endIndex {
                let byte = item[index]
                if byte == UInt8(ascii: "%"), item.distance(from: index, to: item.endIndex) > 2,
                   let high = hexValue(item[item.index(after: index)]), let low = hexValue(item[item.index(index, offsetBy: 2)]) {
                    bytes.append(high << 4 | low)
                    index = item.index(index, offsetBy: 3)
                    continue
                }
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index = item.index(after: index)
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
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
