import CLibWebSockets

/// A WebSocket handshake the server upgrades, kept from `HTTP_CONFIRM_UPGRADE` until lws
/// establishes the connection (or destroys the wsi first).
struct AcceptedUpgrade {
    /// Whether the application has decided yet.
    enum Decision {
        /// Accepted by a synchronous decider (or by having none).
        case accepted(headers: HTTPHeaders, context: (any Sendable)?)
        /// To be decided by this `async` decider once the connection is established.
        case pending(AsyncWebSocketUpgradeDecider)
    }

    /// The handshake request, read while lws still had its headers.
    let request: HTTPRequest
    let decision: Decision
    /// The protocol table entry that serves it (lws binds a handshake naming no subprotocol to
    /// the first entry; LWSKit routes it by path).
    let protocolIndex: Int
}

/// The application's say over WebSocket handshakes (`WebSocketProtocol`'s `shouldUpgrade`),
/// in lws' terms. Over HTTP/1.1 the decision is made at `HTTP_CONFIRM_UPGRADE`, the one place
/// lws 4.1.6 lets a server answer an upgrade with a status of its own; an HTTP/2 stream
/// (RFC 8441) never passes there, so it is decided at `FILTER_PROTOCOL_CONNECTION`, where a
/// refusal can only reset the stream. Loop thread only.
extension ServiceLoop {
    /// Reads the handshake on `wsi`, picks the protocol lws will bind it to, and asks that
    /// protocol's `shouldUpgrade`. Accepted, or left to an `async` decider: kept for
    /// `ESTABLISHED`, and nil is returned. Refused: the response to send.
    func decideUpgrade(_ wsi: OpaquePointer) -> HTTPResponse? {
        var request = handshakeRequest(wsi)
        guard let (index, parameters) = servingProtocol(for: request) else {
            logger.debug("WebSocket handshake for a path nothing serves", metadata: ["path": "\(request.path)"])
            return HTTPResponse(status: 404, text: "no WebSocket endpoint at \(request.path)\n")
        }
        request.pathParameters = parameters
        let decision: WebSocketUpgradeDecision
        switch settings.server?.upgradeDeciders[index] ?? nil {
        case nil: decision = .accept
        case .immediate(let decide): decision = decide(request)
        case .deferred(let decide):
            acceptedUpgrades[wsi] = AcceptedUpgrade(request: request, decision: .pending(decide), protocolIndex: index)
            return nil
        }
        switch decision {
        case .accept(let headers, let context):
            acceptedUpgrades[wsi] = AcceptedUpgrade(
                request: request, decision: .accepted(headers: headers, context: context), protocolIndex: index
            )
            return nil
        case .refuse(let response):
            logger.debug("WebSocket handshake refused by the application", metadata: [
                "status": "\(response.status)", "path": "\(request.path)", "peer": "\(request.peer)",
            ])
            return response
        }
    }

    /// Writes `response` as the answer to an upgrade request and returns -1: lws then closes
    /// the connection once it is sent.
    func answerRefusedUpgrade(_ wsi: OpaquePointer, _ response: HTTPResponse) -> Int32 {
        _ = Self.writeRawHTTP(wsi, Self.rawHTTPResponse(response, closing: true))
        return -1
    }

    /// `LWS_CALLBACK_ADD_HEADERS` while lws composes the `101`: appends the headers the
    /// application accepted the handshake with, as far as lws' buffer has room. Returns
    /// nonzero (lws then fails the handshake) when they do not fit.
    func addAcceptedUpgradeHeaders(_ wsi: OpaquePointer, _ input: UnsafeMutableRawPointer?) -> Int32 {
        guard case .accepted(let headers, _) = acceptedUpgrades[wsi]?.decision, !headers.fields.isEmpty,
              let args = input?.assumingMemoryBound(to: lws_process_html_args.self) else { return 0 }
        var text = ""
        for field in headers where HTTPHeaders.isValid(name: field.name, value: field.value) {
            text += "\(field.name): \(field.value)\r\n"
        }
        let bytes = Array(text.utf8)
        guard bytes.count <= Int(args.pointee.max_len), let cursor = args.pointee.p else {
            logger.warning("the headers accepting a WebSocket handshake do not fit lws' buffer; failing it",
                           metadata: ["bytes": "\(bytes.count)", "room": "\(args.pointee.max_len)"])
            return 1
        }
        bytes.withUnsafeBytes { UnsafeMutableRawPointer(cursor).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        args.pointee.p = cursor + bytes.count
        args.pointee.max_len -= Int32(bytes.count)
        return 0
    }

    /// The handshake request on `wsi`, from lws' header table.
    private func handshakeRequest(_ wsi: OpaquePointer) -> HTTPRequest {
        // (An HTTP/2 stream, RFC 8441, carries its path as `:path`.)
        var path = headerValue(wsi, WSI_TOKEN_GET_URI) ?? headerValue(wsi, WSI_TOKEN_HTTP_COLON_PATH) ?? "/"
        if let query = path.firstIndex(of: "?") { path = String(path[..<query]) }
        return request(on: wsi, method: "GET", path: path)
    }

    /// The protocol that serves `request`, with the parameters its path pattern captured: for
    /// a handshake naming subprotocols, the one lws binds (the first offered that is served)
    /// if its path matches; for one naming none, the first protocol whose path matches. nil
    /// when none does.
    private func servingProtocol(for request: HTTPRequest) -> (index: Int, parameters: [String: String])? {
        let paths = (settings.server?.webSocketPaths ?? [])
        func match(_ index: Int) -> [String: String]? {
            guard let pattern = paths[index] else { return [:] }
            return pattern.match(request.path)
        }
        let offered = request.offeredSubprotocols
        guard offered.isEmpty else {
            guard let index = offered.lazy.compactMap({ self.settings.protocolNames.firstIndex(of: $0) }).first,
                  let parameters = match(index) else { return nil }
            return (index, parameters)
        }
        for index in paths.indices {
            if let parameters = match(index) { return (index, parameters) }
        }
        return nil
    }
}
