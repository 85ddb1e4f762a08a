import CLibWebSockets

/// The one C callback of every protocol LWSKit registers with libwebsockets.
///
/// It finds the Swift owner of the callback (the context's user pointer is the `ServiceLoop`,
/// a wsi's opaque user data is its `WebSocketConnection`), turns the reason into a call on it,
/// and passes every reason LWSKit does not handle to `lws_callback_http_dummy`.
func lwskitDispatch(
    wsi: OpaquePointer?, reason: lws_callback_reasons, user: UnsafeMutableRawPointer?,
    input: UnsafeMutableRawPointer?, length: Int
) -> Int32 {
    switch reason {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        ServiceLoop.owning(wsi)?.drainInbox()
        return 0

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        // A stopping server takes no new WebSocket connections.
        return ServiceLoop.owning(wsi)?.isStopping == true ? 1 : 0

    case LWS_CALLBACK_ESTABLISHED:
        guard let wsi, let loop = ServiceLoop.owning(wsi) else { return -1 }
        return loop.acceptServerConnection(wsi)

    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
        // The server's handshake headers are readable here, no longer at CLIENT_ESTABLISHED.
        guard let wsi, let connection = WebSocketConnection.from(wsi: wsi) else { return 0 }
        connection.state.subprotocol.withLock { $0 = headerValue(wsi, WSI_TOKEN_PROTOCOL) }
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

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        WebSocketConnection.from(wsi: wsi)?.peerInitiatedClose(input, length)
        return 0

    case LWS_CALLBACK_CLOSED, LWS_CALLBACK_CLIENT_CLOSED:
        WebSocketConnection.from(wsi: wsi)?.closed()
        return 0

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        guard let connection = WebSocketConnection.from(wsi: wsi) else { return 0 }
        if let wsi { connection.attach(to: wsi) }
        connection.connectionFailed(input.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) })
        return 0

    case LWS_CALLBACK_WSI_DESTROY:
        guard let wsi, let connection = WebSocketConnection.from(wsi: wsi) else { return 0 }
        lws_set_opaque_user_data(wsi, nil)
        connection.destroyed()
        return 0

    default:
        return lws_callback_http_dummy(wsi, reason, user, input, length)
    }
}

/// The whole value of a header lws parsed on `wsi`, or nil when absent.
func headerValue(_ wsi: OpaquePointer, _ token: lws_token_indexes) -> String? {
    let length = Int(lws_hdr_total_length(wsi, token))
    guard length > 0 else { return nil }
    var buffer = [CChar](repeating: 0, count: length + 1)
    guard lws_hdr_copy(wsi, &buffer, Int32(buffer.count), token) >= 0 else { return nil }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

extension ServiceLoop {
    /// The loop whose context `wsi` belongs to.
    static func owning(_ wsi: OpaquePointer?) -> ServiceLoop? {
        guard let wsi, let context = lws_get_context(wsi), let user = lws_context_user(context) else { return nil }
        return Unmanaged<ServiceLoop>.fromOpaque(user).takeUnretainedValue()
    }
}
