import CLibWebSockets
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How connections come into being on a loop: accepted by its listening vhost, or opened by
/// `lws_client_connect_via_info`. Loop thread only.
extension ServiceLoop {
    /// The name of the one protocol a client context registers; every client wsi is bound to it
    /// (`local_protocol_name`) whatever subprotocol it asks the server for.
    static let clientProtocolName = "lwskit-client"

    /// ESTABLISHED on a server: creates the connection for the protocol lws bound `wsi` to.
    /// Returns nonzero to refuse it.
    func acceptServerConnection(_ wsi: OpaquePointer) -> Int32 {
        guard let boundProtocol = lws_get_protocol(wsi),
              Int(boundProtocol.pointee.id) < (settings.server?.handlers.count ?? 0) else { return -1 }
        let accepted = acceptedUpgrades.removeValue(forKey: wsi)
        let index = accepted?.protocolIndex ?? Int(boundProtocol.pointee.id)
        var context: (any Sendable)?
        var pendingDecision: (AsyncWebSocketUpgradeDecider, HTTPRequest)?
        switch accepted?.decision {
        case .accepted(_, let accepted)?: context = accepted
        case .pending(let decide)?: pendingDecision = accepted.map { (decide, $0.request) }
        case nil: break
        }
        let connection = WebSocketConnection(
            loop: self, handler: settings.server!.handlers[index], peer: accepted?.request.peer ?? Self.peerAddress(of: wsi), url: nil,
            request: accepted?.request, context: context, handshakeHeaders: [:]
        )
        register(connection)
        connection.attach(to: wsi)
        // The subprotocol is negotiated only if the client asked for one; otherwise lws bound
        // the connection to the first protocol without naming it in its answer.
        let requested = headerValue(wsi, WSI_TOKEN_PROTOCOL) != nil
        connection.established(subprotocol: requested ? settings.protocolNames[index] : nil, pendingDecision: pendingDecision)
        if isStopping { connection.stop() }
        return 0
    }

    /// Opens a client connection to `url`. Failures reach the handler as `.connectionError`.
    func connectClient(_ connection: WebSocketConnection, to url: WebSocketURL, subprotocol: String?) {
        guard let context, !isStopping else {
            connection.connectionFailed("the client is shutting down")
            forget(connection)  // (registered already when this is a reconnect)
            return
        }
        register(connection)
        if url.isSecure && connection.state.reconnect == nil {
            connection.state.reconnect = { [unowned self, weak connection] in
                // Not if it was closed (and so ended and forgotten) while it waited.
                guard let connection, connection.state.lifecycle.isConnecting else { return }
                self.connectClient(connection, to: url, subprotocol: subprotocol)
            }
        }
        let strings = CStringArena()
        var info: lws_client_connect_info
        do {
            info = try clientConnectInfo(
                context, url: url.description, host: url.host, port: url.port, path: url.path, hostHeader: url.hostHeader,
                secure: url.isSecure, owner: connection.opaquePointer, strings: strings
            )
        } catch {
            connection.failedToStart(error)
            forget(connection)
            return
        }
        info.retry_and_idle_policy = idlePolicy.map { UnsafePointer($0) }
        info.protocol = subprotocol.map(strings.intern)
        connection.state.connectStarted = .now
        if let wsi = withExtendedLifetime(strings, { lws_client_connect_via_info(&info) }) {
            connection.attach(to: wsi)
        } else {
            // lws may already have reported CLIENT_CONNECTION_ERROR; then this does nothing.
            connection.connectionFailed(Self.unresolvedHostReason(url.host))
            forget(connection)
        }
    }

    /// Starts an HTTP client request. Failures are delivered through the exchange.
    func startHTTPRequest(_ exchange: HTTPClientExchange) {
        guard let context, !isStopping else {
            exchange.finish(.failure(LWSError.notRunning))
            return
        }
        let url = exchange.url
        let strings = CStringArena()
        var info: lws_client_connect_info
        do {
            info = try clientConnectInfo(
                context, url: url.description, host: url.host, port: url.port, path: url.path, hostHeader: url.hostHeader,
                secure: url.isSecure, owner: exchange.opaquePointer, strings: strings
            )
        } catch {
            exchange.finish(.failure(error))
            return
        }
        httpClientRequests[ObjectIdentifier(exchange)] = exchange
        info.method = strings.intern(exchange.method)
        info.alpn = strings.intern("http/1.1")
        if let wsi = withExtendedLifetime(strings, { lws_client_connect_via_info(&info) }) {
            exchange.attach(to: wsi)
        } else {
            // lws may already have reported CLIENT_CONNECTION_ERROR; no WSI_DESTROY follows.
            if !exchange.isFinished { exchange.failed(Self.unresolvedHostReason(url.host)) }
            forgetHTTPRequest(exchange)
        }
    }

    /// What every client connection of this loop starts from: the vhost (`clientVhost`), where
    /// to connect, the Host header, TLS flags, the local protocol, and the owner (a
    /// `WebSocketConnection` or an `HTTPClientExchange`) in the wsi's opaque user data. The
    /// strings go into `strings`, which must outlive `lws_client_connect_via_info` (lws copies
    /// them during that call).
    /// - Throws: What `clientVhost` throws; `url` names the connection in the error.
    private func clientConnectInfo(
        _ context: OpaquePointer, url: String, host: String, port: Int, path: String, hostHeader: String, secure: Bool,
        owner: UnsafeMutableRawPointer, strings: CStringArena
    ) throws(LWSError) -> lws_client_connect_info {
        var info = lws_client_connect_info()
        info.context = context
        info.vhost = try clientVhost(secure: secure, context: context, for: url)
        info.port = Int32(port)
        info.ssl_connection = TLSSettings.connectionFlags(secure: secure, settings.client?.tls)
        info.opaque_user_data = owner
        info.address = strings.intern(host)
        info.path = strings.intern(path)
        info.host = strings.intern(hostHeader)
        info.local_protocol_name = strings.intern(Self.clientProtocolName)
        return info
    }

    /// Drops the loop's reference to a finished HTTP client request.
    func forgetHTTPRequest(_ exchange: HTTPClientExchange) {
        httpClientRequests[ObjectIdentifier(exchange)] = nil
    }

    /// "address:port" of the peer of `wsi` ("[::1]:port" for IPv6). For an HTTP/2 stream, the
    /// peer of the connection carrying it.
    static func peerAddress(of wsi: OpaquePointer) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = lws_get_socket_fd(lws_get_network_wsi(wsi) ?? wsi)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) == 0 }
        }
        guard ok else { return "unknown" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var ip = address.pointee.sin_addr
                    inet_ntop(AF_INET, &ip, &text, socklen_t(text.count))
                    return "\(text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }):\(UInt16(bigEndian: address.pointee.sin_port))"
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var ip = address.pointee.sin6_addr
                    inet_ntop(AF_INET6, &ip, &text, socklen_t(text.count))
                    var name = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                    let port = UInt16(bigEndian: address.pointee.sin6_port)
                    // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; show them as IPv4.
                    if name.hasPrefix("::ffff:"), name.contains(".") {
                        name.removeFirst(7)
                        return "\(name):\(port)"
                    }
                    return "[\(name)]:\(port)"
                }
            }
        default:
            return "unknown"
        }
    }

    /// Why lws could not even start a connection to `host`, when the reason is that the name
    /// does not resolve (lws says only "ipv6 lws_getaddrinfo46 failed", if anything); nil for
    /// a numeric address or a name that resolves. Looked up again only on this failure path.
    static func unresolvedHostReason(_ host: String) -> String? {
        if ListenAddress.numeric(host) != nil { return nil }
        var results: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, nil, &results)
        if status == 0 {
            freeaddrinfo(results)
            return nil
        }
        return "the host name '\(host)' does not resolve (\(String(cString: gai_strerror(status))))"
    }
}
