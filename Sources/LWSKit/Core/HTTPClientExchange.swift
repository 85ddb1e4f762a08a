import CLibWebSockets

/// One request of an `HTTPClient`: connects, sends headers and body, collects the response.
///
/// Everything but `setResultHandler` and `finish` runs on the loop thread. The result is
/// delivered exactly once, whichever comes first: the response, an error, the timeout.
final class HTTPClientExchange: @unchecked Sendable {
    let loop: ServiceLoop
    let url: HTTPURL
    let method: String
    let headers: HTTPHeaders
    let body: [UInt8]
    let maxResponseSize: Int

    private let resultHandler = LockedValue<(@Sendable (Result<HTTPResponse, Error>) -> Void)?>(nil)

    // Loop thread only.
    private var wsi: OpaquePointer?
    private var bodyWritten = 0
    private var response = HTTPResponse(status: 0)

    init(loop: ServiceLoop, url: HTTPURL, method: String, headers: HTTPHeaders, body: [UInt8], maxResponseSize: Int) {
        self.loop = loop
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.maxResponseSize = maxResponseSize
    }

    /// The exchange whose pointer is in `wsi`'s opaque user data, when `wsi` is an HTTP
    /// client connection (WebSocket client connections keep a `WebSocketConnection` there).
    static func from(wsi: OpaquePointer?) -> HTTPClientExchange? {
        guard let wsi, ServiceLoop.owning(wsi)?.settings.client?.kind == .http,
              let pointer = lws_get_opaque_user_data(wsi) else { return nil }
        return Unmanaged<HTTPClientExchange>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// The value stored in the wsi's opaque user data; the loop's table holds the reference.
    var opaquePointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// Sets who receives the result (before the request starts).
    func setResultHandler(_ handler: @escaping @Sendable (Result<HTTPResponse, Error>) -> Void) {
        resultHandler.withLock { $0 = handler }
    }

    /// Delivers the result if none was delivered yet. Any thread.
    func finish(_ result: Result<HTTPResponse, Error>) {
        let handler = resultHandler.withLock { handler in
            defer { handler = nil }
            return handler
        }
        handler?(result)
    }

    /// Whether the result was delivered.
    var isFinished: Bool { resultHandler.withLock { $0 == nil } }
    private var spuriousRetries = SpuriousFailureRetries()

    /// Called by the loop once `lws_client_connect_via_info` returned.
    func attach(to wsi: OpaquePointer) {
        if self.wsi == nil { self.wsi = wsi }
    }

    /// The timeout fired: fails the request and has lws drop its connection.
    func timedOut(after timeout: Duration) {
        guard !isFinished else { return }
        finish(.failure(LWSError.timedOut(url: url.description, after: timeout)))
        if let wsi { lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC) }
    }

    /// CLIENT_CONNECTION_ERROR: refused, unreachable or a failed TLS handshake.
    func failed(_ message: String?) {
        let logged = loop.logSink.takeErrors()
        if TLSSettings.isSpuriousVerifyFailure(message, logged), !isFinished, let delay = spuriousRetries.next() {
            if let wsi { lws_set_opaque_user_data(wsi, nil) }
            wsi = nil
            loop.logger.debug("TLS handshake spoiled by another context's creation; connecting again in \(delay)")
            // Later, and so not from inside this callback: lws closes the failed wsi once it
            // returns. If the loop ends meanwhile, it fails the requests it still holds.
            loop.post(after: delay, { [self] in
                guard !isFinished else { return loop.forgetHTTPRequest(self) }
                loop.startHTTPRequest(self)
            }, refused: { [self] in finish(.failure(LWSError.notRunning)) })
            return
        }
        let reason = TLSSettings.explain(failure: message, logged: logged)
        finish(.failure(LWSError.connectionFailed(url: url.description, reason: reason)))
    }

    /// WSI_DESTROY: the connection is gone; a request still waiting fails.
    func destroyed() {
        wsi = nil
        finish(.failure(LWSError.connectionFailed(url: url.description, reason: "the connection closed before the response was complete")))
        loop.forgetHTTPRequest(self)
    }

    /// CLIENT_APPEND_HANDSHAKE_HEADER: the caller's headers and the body's length.
    /// `input` is lws' `unsigned char **` write cursor, `length` the room left.
    func appendHeaders(wsi: OpaquePointer, _ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
        guard let input else { return -1 }
        let cursor = input.assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self)
        guard let start = cursor.pointee else { return -1 }
        let end = start + length
        var fields = headers.fields.filter { $0.name.lowercased() != "content-length" && $0.name.lowercased() != "host" }
        if !body.isEmpty || method == "POST" || method == "PUT" || method == "PATCH" {
            fields.append(.init(name: "content-length", value: "\(body.count)"))
        }
        for field in fields {
            guard ServiceLoop.addHTTPHeader(wsi, name: field.name, value: field.value, cursor: cursor, end: end) else {
                finish(.failure(LWSError.invalidArgument("the request headers do not fit in \(length) bytes")))
                return -1
            }
        }
        if !body.isEmpty {
            lws_client_http_body_pending(wsi, 1)
            lws_callback_on_writable(wsi)
        }
        return 0
    }

    /// The HTTP client reasons after the connection is up.
    func handle(_ reason: lws_callback_reasons, wsi: OpaquePointer, _ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
        switch reason {
        case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
            return writeBody(wsi)
        case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
            response.status = Int(lws_http_client_http_response(wsi))
            response.headers = parsedHeaders(wsi)
            if let declared = response.headers["content-length"].flatMap(Int.init), declared > maxResponseSize {
                return tooLarge()
            }
            return 0
        case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
            // lws asks us to pull the body: it calls back RECEIVE_CLIENT_HTTP_READ with each piece.
            var buffer = UnsafeMutablePointer<CChar>?((loop.httpChunkBuffer.baseAddress! + Int(lwskit_pre())).assumingMemoryBound(to: CChar.self))
            var room = Int32(HTTPServerExchange.chunkSize)
            return lws_http_client_read(wsi, &buffer, &room) < 0 ? -1 : 0
        case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
            guard response.body.count + length <= maxResponseSize else { return tooLarge() }
            if let input, length > 0 { response.body.append(contentsOf: UnsafeRawBufferPointer(start: input, count: length)) }
            return 0
        case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
            finish(.success(response))
            return 0
        default:  // CLOSED_CLIENT_HTTP
            finish(.failure(LWSError.connectionFailed(url: url.description, reason: "the server closed the connection before the response was complete")))
            return 0
        }
    }

    private func writeBody(_ wsi: OpaquePointer) -> Int32 {
        guard bodyWritten < body.count else { return 0 }
        let length = min(body.count - bodyWritten, HTTPServerExchange.chunkSize)
        let isFinal = bodyWritten + length == body.count
        guard loop.writeHTTPChunk(wsi, of: body, from: bodyWritten, length: length, isFinal: isFinal) else {
            finish(.failure(LWSError.connectionFailed(
                url: url.description,
                reason: "the server closed the connection while the request body was being sent (it may have refused it, e.g. 413 for a body over its limit)"
            )))
            return -1
        }
        bodyWritten += length
        if isFinal {
            lws_client_http_body_pending(wsi, 0)
        } else {
            lws_callback_on_writable(wsi)
        }
        return 0
    }

    private func tooLarge() -> Int32 {
        finish(.failure(LWSError.responseTooLarge(url: url.description, limit: maxResponseSize)))
        return -1
    }
}
