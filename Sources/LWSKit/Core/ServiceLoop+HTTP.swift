import CLibWebSockets

/// The server side of HTTP on a loop: turning lws' HTTP reasons into `HTTPServerExchange`s.
/// Loop thread only.
extension ServiceLoop {
    /// The name of the protocol LWSKit registers for its HTTP route mounts.
    static let httpProtocolName = "lwskit-http"

    /// The methods lws parses into their own header tokens (h1 request lines and h2 `:method`).
    private static let methodTokens: [(String, lws_token_indexes)] = [
        ("GET", WSI_TOKEN_GET_URI), ("POST", WSI_TOKEN_POST_URI), ("PUT", WSI_TOKEN_PUT_URI),
        ("PATCH", WSI_TOKEN_PATCH_URI), ("DELETE", WSI_TOKEN_DELETE_URI), ("OPTIONS", WSI_TOKEN_OPTIONS_URI),
        ("HEAD", WSI_TOKEN_HEAD_URI),
    ]

    /// Methods whose request carries a body.
    private static let bodyMethods: Set<String> = ["POST", "PUT", "PATCH"]

    /// `LWS_CALLBACK_HTTP`: a request's headers are in. Decides how to answer it; answers at
    /// once unless a body is coming. Returns nonzero to close the connection.
    func httpRequestStarted(_ wsi: OpaquePointer) -> Int32 {
        guard let (method, path) = Self.methodAndPath(wsi) else {
            logger.debug("HTTP request without a method lws knows; closing")
            return -1
        }
        let isHTTP2 = isHTTP2Stream(wsi)
        var request = request(on: wsi, method: method, path: path)
        let maxBodySize = settings.server?.http.maxRequestBodySize ?? 0
        var plan = plan(for: &request)
        var closesAfterResponse = false
        let expectsBody = Self.bodyMethods.contains(method)
        if !isHTTP2, request.headers["transfer-encoding"] != nil {
            // LWSKit reads bodies by content-length only. With both headers, a proxy in front
            // and this server could disagree on where the body ends (request smuggling).
            plan = request.headers["content-length"] != nil
                ? .fixed(HTTPResponse(status: 400, text: "transfer-encoding and content-length together\n"))
                : .fixed(HTTPResponse(status: 411, text: "a request body needs a content-length (transfer-encoding is not supported)\n"))
            closesAfterResponse = true
        } else if expectsBody, case .route = plan {
            let length = request.headers["content-length"].map { Int($0) ?? -1 }
            if let length, length < 0 {
                plan = .fixed(HTTPResponse(status: 400, text: "invalid content-length\n"))
                closesAfterResponse = true
            } else if let length, length > maxBodySize {
                plan = .fixed(HTTPResponse(status: 413, text: "request body of \(length) bytes exceeds the limit of \(maxBodySize)\n"))
                closesAfterResponse = true
            } else if length == nil && !isHTTP2 {
                plan = .fixed(HTTPResponse(status: 411, text: "a request body needs a content-length\n"))
                closesAfterResponse = true
            }
        } else if expectsBody {
            // Not reading the refused body: the connection cannot carry another request.
            closesAfterResponse = true
        }
        let exchange = HTTPServerExchange(wsi: wsi, request: request, plan: plan, maxBodySize: maxBodySize, isHTTP2: isHTTP2)
        exchange.closesAfterResponse = closesAfterResponse
        httpExchanges[wsi] = exchange
        logger.trace("HTTP request", metadata: ["method": "\(method)", "path": "\(path)", "peer": "\(request.peer)"])
        if expectsBody, case .route = plan {
            if !isHTTP2, request.headers["expect"]?.lowercased() == "100-continue", !Self.sendContinue(wsi) {
                return -1
            }
            awaitBody(of: exchange)
            return 0  // answered at HTTP_BODY_COMPLETION
        }
        return respond(exchange)
    }

    /// `LWS_CALLBACK_HTTP_BODY`: copies a body chunk. Answers 413 when the body outgrows the limit.
    func httpBodyReceived(_ wsi: OpaquePointer, _ input: UnsafeMutableRawPointer?, _ length: Int) -> Int32 {
        guard let exchange = httpExchanges[wsi], !exchange.isResponding else { return 0 }
        if exchange.request.body.isEmpty, !exchange.isHTTP2, isOwnHeadFedAsBody(wsi, exchange.request, input, length) {
            exchange.closesAfterResponse = true
            var response = HTTPResponse(
                status: 503, text: "a pipelined request with a body is not supported: send it once the previous response is in\n"
            )
            response.headers.add(name: "retry-after", value: "0")
            return respond(exchange, with: response)
        }
        guard requestBodyBudget.take(length) else {
            logger.debug("HTTP request refused: the server holds its limit of unfinished request bodies", metadata: [
                "path": "\(exchange.request.path)", "peer": "\(exchange.request.peer)", "limit": "\(requestBodyBudget.limit)",
            ])
            exchange.closesAfterResponse = true
            var response = HTTPResponse(status: 503, text: "the server holds too many unfinished request bodies; try again later\n")
            response.headers.add(name: "retry-after", value: "1")
            return respond(exchange, with: response)
        }
        exchange.budgetedBodyBytes += length
        guard exchange.appendBody(input, length) else {
            exchange.closesAfterResponse = true
            let limit = exchange.maxBodySize
            return respond(exchange, with: HTTPResponse(status: 413, text: "request body exceeds the limit of \(limit) bytes\n"))
        }
        return 0
    }

    /// `LWS_CALLBACK_HTTP_BODY_COMPLETION`: the whole body is in; runs the handler and answers.
    func httpBodyCompleted(_ wsi: OpaquePointer) -> Int32 {
        guard let exchange = httpExchanges[wsi] else {
            if !isHTTP2Stream(wsi) { holdPipelinedRequests(wsi) }
            return 0
        }
        guard !exchange.isResponding else { return 0 }
        return respond(exchange)
    }

    /// `LWS_CALLBACK_HTTP_WRITEABLE`: the next chunk of a response body.
    func httpWriteable(_ wsi: OpaquePointer) -> Int32 {
        guard let exchange = httpExchanges[wsi] else { return 0 }
        if exchange.bodyIsOverdue {
            logger.debug("HTTP request body too slow", metadata: [
                "path": "\(exchange.request.path)", "peer": "\(exchange.request.peer)", "received": "\(exchange.request.body.count)",
            ])
            exchange.closesAfterResponse = true
            return respond(exchange, with: HTTPResponse(status: 408, text: "the request body did not arrive in time\n"))
        }
        let result = exchange.writeNextChunk(loop: self)
        if !exchange.isResponding { httpExchanges[wsi] = nil }
        return result
    }

    /// `LWS_CALLBACK_CLOSED_HTTP` and `WSI_DESTROY`: forgets the request on `wsi`.
    func httpClosed(_ wsi: OpaquePointer) {
        forgetPipelineState(wsi)
        if let exchange = httpExchanges[wsi], !exchange.isResponding, case .route = exchange.plan {
            logger.debug("HTTP request abandoned before its body was complete", metadata: [
                "path": "\(exchange.request.path)", "received": "\(exchange.request.body.count)",
            ])
        }
        if let exchange = httpExchanges[wsi] { releaseBody(of: exchange) }
        httpExchanges[wsi] = nil
    }

    /// The request's body no longer counts as unfinished: it is complete, refused or abandoned.
    private func releaseBody(of exchange: HTTPServerExchange) {
        requestBodyBudget.giveBack(exchange.budgetedBodyBytes)
        exchange.budgetedBodyBytes = 0
    }

    private func respond(_ exchange: HTTPServerExchange, with response: HTTPResponse? = nil) -> Int32 {
        releaseBody(of: exchange)
        // A refused body is of no more use; the handler's answer is made from a complete one.
        if response != nil { exchange.request.body = [] }
        let answer = response ?? exchange.makeResponse()
        logger.debug("HTTP response", metadata: [
            "method": "\(exchange.request.method)", "path": "\(exchange.request.path)", "status": "\(answer.status)",
        ])
        let result = exchange.startResponse(answer, loop: self)
        if !exchange.isResponding || result != 0 { httpExchanges[exchange.wsi] = nil }
        return result
    }

    /// The route for the request, or the error that answers it (404, 405).
    /// What to do with `request`: the route whose pattern and method match (its path
    /// parameters go into `request`), else 404, or 405 naming the methods the path has.
    private func plan(for request: inout HTTPRequest) -> HTTPServerExchange.Plan {
        let path = request.path
        let routes = (settings.server?.http.routes ?? []).compactMap { route in
            PathPattern(route.path)?.match(path).map { (route, $0) }
        }
        if let (route, parameters) = routes.first(where: { $0.0.method == request.method }) {
            request.pathParameters = parameters
            return .route(route)
        }
        if routes.isEmpty {
            return .fixed(HTTPResponse(status: 404, text: "not found\n"))
        }
        var response = HTTPResponse(status: 405, text: "method \(request.method) not allowed\n")
        response.headers.add(name: "allow", value: routes.map(\.0.method).joined(separator: ", "))
        return .fixed(response)
    }

    private static func methodAndPath(_ wsi: OpaquePointer) -> (String, String)? {
        for (method, token) in methodTokens {
            guard var path = headerValue(wsi, token) else { continue }
            if let query = path.firstIndex(of: "?") { path = String(path[..<query]) }
            return (method, path)
        }
        return nil
    }

    /// Tells an HTTP/1.1 client that sent `expect: 100-continue` to go on with its body (lws
    /// does not, and curl then waits a second before sending). Returns false if the write failed.
    private static func sendContinue(_ wsi: OpaquePointer) -> Bool {
        writeRawHTTP(wsi, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
    }

    /// The request on `wsi` as route handlers and upgrade deciders see it: lws' parsed headers
    /// and the configured custom ones, the query, the peer, whether it came over TLS. No body.
    func request(on wsi: OpaquePointer, method: String, path: String) -> HTTPRequest {
        var headers = parsedHeaders(wsi)
        for name in settings.server?.http.customHeaderNames ?? [] {
            if let value = Self.customHeader(wsi, name) { headers.add(name: name.lowercased(), value: value) }
        }
        return HTTPRequest(
            method: method, path: path, decodedQueryItems: Self.queryItems(wsi), headers: headers, peer: Self.peerAddress(of: wsi),
            isSecure: settings.server?.tls != nil
        )
    }

    /// Answers a request with `status` (400 by default) and `why` as its body: one
    /// `HTTPRequestCheck` found malformed, an upgrade offering only subprotocols nobody serves
    /// (400), one from a page the origin policy refuses (403). With `keepsConnection` the connection goes on
    /// (possible at an upgrade, by returning 1; lws discards any body); otherwise it is closed,
    /// and at `FILTER_HTTP_CONNECTION` lws can only close it. Returns what lws expects there.
    func refuseRequest(_ wsi: OpaquePointer, _ why: String, status: Int = 400, keepsConnection: Bool) -> Int32 {
        logger.debug("HTTP request refused: \(status) \(why)", metadata: ["peer": "\(Self.peerAddress(of: wsi))"])
        let answer = Self.rawHTTPResponse(HTTPResponse(status: status, text: "\(why)\n"), closing: !keepsConnection)
        let written = Self.writeRawHTTP(wsi, answer)
        return keepsConnection && written ? 1 : -1
    }

    /// `LWS_CALLBACK_HTTP_CONFIRM_UPGRADE` for `Upgrade: h2c`, which lws would honour on a
    /// plain port: HTTP/2 is offered only through TLS ALPN, and only when asked for
    /// (`TLSServerConfiguration.http2`). lws cannot go on with the request as plain HTTP/1.1
    /// from here, so it is answered 400 with the reason; the connection stays open for the
    /// next request (lws discards an unread body). Returns what lws expects: 1 once the answer
    /// is written, -1 to hang up when it could not be.
    func refuseCleartextHTTP2(_ wsi: OpaquePointer) -> Int32 {
        logger.debug("HTTP/2 upgrade (h2c) refused", metadata: ["peer": "\(Self.peerAddress(of: wsi))"])
        let answer = Self.rawHTTPResponse(HTTPResponse(
            status: 400, text: "HTTP/2 over plain TCP (Upgrade: h2c) is not offered: send the request without the upgrade\n"
        ), closing: false)
        return Self.writeRawHTTP(wsi, answer) ? 1 : -1
    }

    /// A header lws has no token for, looked up by name.
    static func customHeader(_ wsi: OpaquePointer, _ name: String) -> String? {
        let key = name.lowercased() + ":"
        let length = Int(lws_hdr_custom_length(wsi, key, Int32(key.utf8.count)))
        guard length >= 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: length + 1)
        guard lws_hdr_custom_copy(wsi, &buffer, Int32(buffer.count), key, Int32(key.utf8.count)) >= 0 else { return nil }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The query's items: lws splits the query at "&" and ";" into fragments of one token and
    /// decodes each (so an encoded "&" stays inside its item).
    static func queryItems(_ wsi: OpaquePointer) -> [String] {
        var parts: [String] = []
        var index: Int32 = 0
        while true {
            let length = Int(lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, index))
            guard length > 0 else { break }
            var buffer = [CChar](repeating: 0, count: length + 1)
            guard lws_hdr_copy_fragment(wsi, &buffer, Int32(buffer.count), WSI_TOKEN_HTTP_URI_ARGS, index) >= 0 else { break }
            parts.append(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
            index += 1
        }
        return parts
    }
}
