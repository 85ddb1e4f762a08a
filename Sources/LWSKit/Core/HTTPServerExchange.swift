import CLibWebSockets

/// One HTTP request on a server, from `LWS_CALLBACK_HTTP` to the last byte of its response.
/// Loop thread only.
///
/// The request body arrives in `HTTP_BODY` chunks that are copied and assembled up to the
/// limit. Over HTTP/1.1 the whole response is handed to lws at once and the transaction ends in
/// the same callback (lws keeps what the socket does not take and sends it as the peer reads):
/// lws 4.1.6 must not be left between a complete request and the end of its transaction, or it
/// feeds the bytes of a pipelined request behind a body to `HTTP_BODY_COMPLETION` again and
/// again (`ServiceLoop.httpBodyCompleted`). Over HTTP/2 the body leaves in `HTTP_WRITEABLE`
/// chunks within the stream's flow-control window.
final class HTTPServerExchange {
    /// The size of the loop's HTTP chunk buffer: the most body bytes an HTTP client reads or
    /// writes per callback.
    static let chunkSize = 64 << 10
    /// HTTP/2 DATA frames are at most 16 KiB unless the peer allows more.
    static let http2ChunkSize = 16 << 10

    /// What the request's handler will be, decided when its headers arrive.
    enum Plan {
        /// Run this route's handler once the body (if any) is complete.
        case route(HTTPRoute)
        /// Answer this, whatever the body.
        case fixed(HTTPResponse)
    }

    let wsi: OpaquePointer
    var request: HTTPRequest
    let plan: Plan
    let maxBodySize: Int
    /// Whether the stream is HTTP/2 (no `connection` header, empty final DATA frame).
    let isHTTP2: Bool
    /// Whether to close the connection after the response instead of keeping it alive (the
    /// unread body of a refused request would otherwise be parsed as the next request).
    var closesAfterResponse = false

    /// Body bytes counted against the loop's `RequestBodyBudget` and not yet given back.
    var budgetedBodyBytes = 0
    /// When the body must be complete (`HTTPServerConfiguration.requestBodyTimeout`); nil
    /// for a request without one. One that missed it is answered 408 at the next
    /// `HTTP_WRITEABLE` (`ServiceLoop.sweepBodyDeadlines` asks for it).
    var bodyDeadline: ContinuousClock.Instant?

    /// Whether the body is still awaited past its deadline.
    var bodyIsOverdue: Bool {
        !isResponding && bodyDeadline.map { $0 <= .now } == true
    }

    private var response: [UInt8] = []
    private var written = 0
    private(set) var isResponding = false

    init(wsi: OpaquePointer, request: HTTPRequest, plan: Plan, maxBodySize: Int, isHTTP2: Bool) {
        self.wsi = wsi
        self.request = request
        self.plan = plan
        self.maxBodySize = maxBodySize
        self.isHTTP2 = isHTTP2
    }

    /// Appends a body chunk. Returns false when the body outgrows the limit.
    func appendBody(_ input: UnsafeMutableRawPointer?, _ length: Int) -> Bool {
        guard !isResponding else { return true }
        guard request.body.count + length <= maxBodySize else { return false }
        if let input, length > 0 {
            // Room for the announced body at once: growing by doubling could hold twice the
            // bytes received, and only received bytes count against the budget.
            if request.body.isEmpty, let announced = request.headers["content-length"].flatMap({ Int($0) }) {
                request.body.reserveCapacity(min(announced, maxBodySize))
            }
            request.body.append(contentsOf: UnsafeRawBufferPointer(start: input, count: length))
        }
        return true
    }

    /// The response: the route handler's answer or the fixed one.
    func makeResponse() -> HTTPResponse {
        switch plan {
        case .fixed(let response): return response
        case .route(let route): return route.handler(request)
        }
    }

    /// Writes the status line and headers, then asks for `HTTP_WRITEABLE` to send the body.
    /// Returns nonzero when lws refused the headers (the connection then closes).
    func startResponse(_ answer: HTTPResponse, loop: ServiceLoop) -> Int32 {
        isResponding = true
        response = answer.body
        var extra = answer.headers.fields.filter {
            let name = $0.name.lowercased()
            return name != "content-length" && name != "content-type" && name != "connection" && name != "transfer-encoding"
                && HTTPHeaders.isValid(name: $0.name, value: $0.value)
        }
        if closesAfterResponse && !isHTTP2 { extra.append(.init(name: "connection", value: "close")) }
        let contentType = answer.headers["content-type"] ?? (answer.body.isEmpty ? nil : "application/octet-stream")
        let headerSpace = 1024 + (contentType?.utf8.count ?? 0) + extra.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 8 }
        let pre = Int(lwskit_pre())
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: pre + headerSpace)
        defer { buffer.deallocate() }
        let start = buffer + pre
        var cursor: UnsafeMutablePointer<UInt8>? = start
        let end = start + headerSpace
        let status = (100...999).contains(answer.status) ? answer.status : 500
        var failed = withOptionalCString(contentType) { type in
            lws_add_http_common_headers(wsi, UInt32(status), type, lws_filepos_t(response.count), &cursor, end) != 0
        }
        for field in extra where !failed {
            failed = !ServiceLoop.addHTTPHeader(wsi, name: field.name, value: field.value, cursor: &cursor, end: end)
        }
        if failed || lws_finalize_write_http_header(wsi, start, &cursor, end) != 0 {
            loop.logger.debug("cannot write HTTP response headers; closing", metadata: ["path": "\(request.path)"])
            return -1
        }
        if isHTTP2 {
            lws_callback_on_writable(wsi)
            return 0
        }
        if !response.isEmpty && !loop.writeWholeHTTPBody(wsi, response) {
            loop.logger.debug("HTTP body write failed; closing", metadata: ["path": "\(request.path)"])
            return -1
        }
        return finish(loop: loop)
    }

    /// `HTTP_WRITEABLE` of an HTTP/2 stream: writes the next body chunk the stream's window
    /// allows; after the last one, ends the transaction. Returns nonzero to close the stream.
    func writeNextChunk(loop: ServiceLoop) -> Int32 {
        guard isResponding, isHTTP2 else { return 0 }
        var length = min(response.count - written, Self.http2ChunkSize)
        let allowance = Int(lws_get_peer_write_allowance(wsi))
        if allowance >= 0 { length = min(length, allowance) }
        if length == 0 && written < response.count {
            lws_callback_on_writable(wsi)
            return 0
        }
        let isFinal = written + length == response.count
        if !loop.writeHTTPChunk(wsi, of: response, from: written, length: length, isFinal: isFinal) {
            loop.logger.debug("HTTP body write failed; closing", metadata: ["path": "\(request.path)"])
            return -1
        }
        written += length
        if !isFinal {
            lws_callback_on_writable(wsi)
            return 0
        }
        return finish(loop: loop)
    }

    /// Ends the transaction: keep-alive for the next request, or close.
    private func finish(loop: ServiceLoop) -> Int32 {
        isResponding = false
        if closesAfterResponse { return -1 }
        if !isHTTP2 { loop.keptAlive.insert(wsi) }
        return lws_http_transaction_completed(wsi) != 0 ? -1 : 0
    }
}

/// Calls `body` with a C string for `string`, or with nil.
private func withOptionalCString<Result>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> Result) -> Result {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
