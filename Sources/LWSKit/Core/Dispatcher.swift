import CLibWebSockets

/// The one C callback of every protocol LWSKit registers with libwebsockets.
///
/// It finds the Swift owner of the callback (the context's user pointer is the `ServiceLoop`;
/// a wsi's opaque user data is its `WebSocketConnection`, or its `HTTPClientExchange` on an
/// HTTP client loop; server HTTP requests are looked up by wsi), turns the reason into a call,
/// and passes every reason LWSKit does not handle to `lws_callback_http_dummy`.
func lwskitDispatch(
    wsi: OpaquePointer?, reason: lws_callback_reasons, user: UnsafeMutableRawPointer?,
    input: UnsafeMutableRawPointer?, length: Int
) -> Int32 {
    switch reason {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        // The wake-up has done its job: lws_service returns after this round, and the loop
        // then runs its inbox, outside any lws callback.
        return 0

    case LWS_CALLBACK_RAW_RX_FILE:
        // The only raw descriptor LWSKit adopts is a server's listening socket.
        ServiceLoop.owning(wsi)?.acceptWaitingPeers()
        return 0

    case LWS_CALLBACK_WSI_CREATE:
        if let wsi { ServiceLoop.owning(wsi)?.wsiCreated(wsi) }
        return 0

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        guard let wsi, let loop = ServiceLoop.owning(wsi) else { return 1 }
        // A stopping server takes no new WebSocket connections.
        if loop.isStopping { return 1 }
        if let refusal = HandshakeCheck.refusal(wsi) ?? HandshakeCheck.foreignOrigin(wsi, policy: loop.settings.server?.origins) {
            // (Over HTTP/1.1 a foreign origin was answered 403 at HTTP_CONFIRM_UPGRADE already;
            // an HTTP/2 stream comes here without it, and can only be dropped.)
            loop.logger.debug("handshake refused: \(refusal)")
            return 1
        }
        // Decided at HTTP_CONFIRM_UPGRADE over HTTP/1.1; an HTTP/2 stream is decided here.
        if loop.acceptedUpgrades[wsi] == nil, loop.decideUpgrade(wsi) != nil { return 1 }
        return 0

    case LWS_CALLBACK_ESTABLISHED:
        guard let wsi, let loop = ServiceLoop.owning(wsi) else { return -1 }
        return loop.acceptServerConnection(wsi)

    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
        // The server's handshake headers are readable here, no longer at CLIENT_ESTABLISHED.
        guard let wsi, HTTPClientExchange.from(wsi: wsi) == nil,
              let connection = WebSocketConnection.from(wsi: wsi) else { return 0 }
        let headers = parsedHeaders(wsi)
        connection.state.shared.withLock {
            $0.subprotocol = headerValue(wsi, WSI_TOKEN_PROTOCOL)
            $0.responseHeaders = headers
        }
        return 0

    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        guard let wsi, let connection = WebSocketConnection.from(wsi: wsi) else { return -1 }
        connection.attach(to: wsi)
        connection.established(subprotocol: connection.subprotocol)
        return 0

    case LWS_CALLBACK_RECEIVE, LWS_CALLBACK_CLIENT_RECEIVE:
        return WebSocketConnection.from(wsi: wsi)?.receive(input, length) ?? 0

    case LWS_CALLBACK_SERVER_WRITEABLE, LWS_CALLBACK_CLIENT_WRITEABLE:
        return WebSocketConnection.from(wsi: wsi)?.writeable() ?? 0

    case LWS_CALLBACK_RECEIVE_PONG, LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        WebSocketConnection.from(wsi: wsi)?.receivedPong(input, length)
        return 0

    case LWS_CALLBACK_WS_SERVER_DROP_PROTOCOL, LWS_CALLBACK_WS_CLIENT_DROP_PROTOCOL:
        WebSocketConnection.from(wsi: wsi)?.writeQueueBeforeLWSCloses()
        return 0

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return WebSocketConnection.from(wsi: wsi)?.peerInitiatedClose(input, length) ?? 0

    case LWS_CALLBACK_CLOSED, LWS_CALLBACK_CLIENT_CLOSED:
        WebSocketConnection.from(wsi: wsi)?.closed()
        return 0

    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        guard let wsi, let loop = ServiceLoop.owning(wsi) else { return -1 }
        if let violation = HTTPRequestCheck.violation(wsi) { return loop.refuseRequest(wsi, violation, keepsConnection: true) }
        let upgrade = input.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) } ?? ""
        if upgrade.lowercased() == "h2c" { return loop.refuseCleartextHTTP2(wsi) }
        if let refusal = HandshakeCheck.foreignOrigin(wsi, policy: loop.settings.server?.origins) {
            return loop.refuseRequest(wsi, refusal, status: 403, keepsConnection: false)
        }
        if let refusal = HandshakeCheck.unservedSubprotocols(wsi, served: loop.settings.protocolNames) {
            return loop.refuseRequest(wsi, refusal, keepsConnection: false)
        }
        if upgrade.lowercased() == "websocket", let refusal = loop.decideUpgrade(wsi) {
            return loop.answerRefusedUpgrade(wsi, refusal)
        }
        return 0

    case LWS_CALLBACK_ADD_HEADERS:
        guard let wsi, let loop = ServiceLoop.owning(wsi) else { return 0 }
        return loop.addAcceptedUpgradeHeaders(wsi, input)

    case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
        // Every HTTP request (file mounts included) passes here before lws serves it.
        guard let wsi, let loop = ServiceLoop.owning(wsi) else { return -1 }
        if let violation = HTTPRequestCheck.violation(wsi) { return loop.refuseRequest(wsi, violation, keepsConnection: false) }
        return 0

    case LWS_CALLBACK_HTTP:
        guard let wsi, let loop = ServiceLoop.owning(wsi) else { return -1 }
        return loop.httpRequestStarted(wsi)

    case LWS_CALLBACK_HTTP_BODY:
        guard let wsi, let loop = ServiceLoop.owning(wsi) else { return -1 }
        return loop.httpBodyReceived(wsi, input, length)

    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        guard let wsi, let loop = ServiceLoop.owning(wsi) else { return -1 }
        return loop.httpBodyCompleted(wsi)

    case LWS_CALLBACK_HTTP_WRITEABLE:
        // File mounts are written by lws itself; only LWSKit's own responses are ours.
        guard let wsi, let loop = ServiceLoop.owning(wsi), loop.httpExchanges[wsi] != nil else {
            return lws_callback_http_dummy(wsi, reason, user, input, length)
        }
        return loop.httpWriteable(wsi)

    case LWS_CALLBACK_CLOSED_HTTP:
        if let wsi { ServiceLoop.owning(wsi)?.httpClosed(wsi) }
        return lws_callback_http_dummy(wsi, reason, user, input, length)

    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP, LWS_CALLBACK_RECEIVE_CLIENT_HTTP, LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ,
         LWS_CALLBACK_COMPLETED_CLIENT_HTTP, LWS_CALLBACK_CLOSED_CLIENT_HTTP, LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
        guard let wsi, let exchange = HTTPClientExchange.from(wsi: wsi) else {
            return lws_callback_http_dummy(wsi, reason, user, input, length)
        }
        return exchange.handle(reason, wsi: wsi, input, length)

    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        guard let wsi else { return 0 }
        if let exchange = HTTPClientExchange.from(wsi: wsi) { return exchange.appendHeaders(wsi: wsi, input, length) }
        return WebSocketConnection.from(wsi: wsi)?.appendHandshakeHeaders(wsi, input, length) ?? 0

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if let exchange = HTTPClientExchange.from(wsi: wsi) {
            exchange.failed(input.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) })
            return 0
        }
        guard let connection = WebSocketConnection.from(wsi: wsi) else { return 0 }
        if let wsi { connection.attach(to: wsi) }
        connection.connectionFailed(input.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) })
        return 0

    case LWS_CALLBACK_WSI_DESTROY:
        guard let wsi else { return 0 }
        let loop = ServiceLoop.owning(wsi)
        loop?.wsiDestroyed(wsi)
        loop?.acceptedUpgrades[wsi] = nil  // (a handshake accepted, then lost before ESTABLISHED)
        if let exchange = HTTPClientExchange.from(wsi: wsi) {
            lws_set_opaque_user_data(wsi, nil)
            exchange.destroyed()
            return 0
        }
        loop?.httpClosed(wsi)
        guard let connection = WebSocketConnection.from(wsi: wsi) else { return 0 }
        lws_set_opaque_user_data(wsi, nil)
        connection.destroyed()
        return 0

    default:
        return lws_callback_http_dummy(wsi, reason, user, input, length)
    }
}

/// Whether `wsi` is a stream of an HTTP/2 connection (an HTTP request, or a WebSocket per
/// RFC 8441) rather than a connection of its own.
func isHTTP2Stream(_ wsi: OpaquePointer) -> Bool {
    guard let network = lws_get_network_wsi(wsi) else { return false }
    return network != wsi
}

/// The whole value of a header lws parsed on `wsi`, or nil when absent.
func headerValue(_ wsi: OpaquePointer, _ token: lws_token_indexes) -> String? {
    let length = Int(lws_hdr_total_length(wsi, token))
    guard length > 0 else { return nil }
    var buffer = [CChar](repeating: 0, count: length + 1)
    guard lws_hdr_copy(wsi, &buffer, Int32(buffer.count), token) >= 0 else { return nil }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// Every header lws parsed into a token on `wsi` (a request on a server, a response on a
/// client), by lowercase name. Headers lws has no token for are not included.
func parsedHeaders(_ wsi: OpaquePointer) -> HTTPHeaders {
    var headers = HTTPHeaders()
    for raw in 0..<WSI_TOKEN_COUNT.rawValue {
        let token = lws_token_indexes(rawValue: raw)
        // Most of the ~90 tokens are absent: skip them before making a name string (every
        // WebSocket handshake comes here; the names cost 15 % of the handshake rate).
        guard lws_hdr_total_length(wsi, token) > 0, let namePointer = lws_token_to_string(token) else { continue }
        let name = String(cString: namePointer)
        // Header tokens are "name:"; method tokens ("get ") and pseudo-headers are not.
        guard name.hasSuffix(":"), !name.hasPrefix(":"), let value = headerValue(wsi, token) else { continue }
        headers.add(name: String(name.dropLast()), value: value)
    }
    return headers
}

extension ServiceLoop {
    /// The loop whose context `wsi` belongs to.
    static func owning(_ wsi: OpaquePointer?) -> ServiceLoop? {
        guard let wsi, let context = lws_get_context(wsi), let user = lws_context_user(context) else { return nil }
        return Unmanaged<ServiceLoop>.fromOpaque(user).takeUnretainedValue()
    }
}
