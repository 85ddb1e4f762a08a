/// An HTTP request as a route handler receives it: complete, body included.
public struct HTTPRequest: Sendable {
    /// The method, upper case: "GET", "POST", …
    public var method: String
    /// The path, percent-decoded and normalised by libwebsockets, without the query.
    public var path: String
    /// The query string without the "?", or nil when the URL had none.
    public var query: String?
    /// The request's header fields that libwebsockets parses (the standard ones).
    public var headers: HTTPHeaders
    /// The whole body, at most the server's `maxRequestBodySize`; empty for GET.
    public var body: [UInt8]
    /// "address:port" of the client.
    public var peer: String

    /// Creates a request (for tests of handlers; the server builds the real ones).
    public init(method: String, path: String, query: String? = nil, headers: HTTPHeaders = [:], body: [UInt8] = [], peer: String = "") {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.peer = peer
    }
}
