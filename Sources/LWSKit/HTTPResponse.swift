/// An HTTP response: what a route handler answers, and what the HTTP client returns.
public struct HTTPResponse: Sendable {
    /// The status code, e.g. 200.
    public var status: Int
    /// Header fields. A server sets `content-length` itself; `content-type` defaults to
    /// "application/octet-stream" when the body is not empty and none is given.
    public var headers: HTTPHeaders
    /// The body.
    public var body: [UInt8]

    /// Creates a response.
    /// - Parameters:
    ///   - status: The status code, 100...999. Default 200.
    ///   - headers: Header fields. Default none.
    ///   - body: The body. Default empty.
    public init(status: Int = 200, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response with a UTF-8 text body and its content type.
    /// - Parameters:
    ///   - status: The status code. Default 200.
    ///   - headers: More header fields. Default none.
    ///   - text: The body text.
    ///   - contentType: Default "text/plain; charset=utf-8".
    public init(status: Int = 200, headers: HTTPHeaders = [:], text: String, contentType: String = "text/plain; charset=utf-8") {
        var fields = headers
        fields.set(name: "content-type", value: contentType)
        self.init(status: status, headers: fields, body: Array(text.utf8))
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }
}
