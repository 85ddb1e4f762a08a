import CLibWebSockets

/// Making a loop's lws context and vhost from its settings, and the client's TLS vhost made
/// on first use. Loop thread only (`createContext` runs as the thread starts).
extension ServiceLoop {
    /// Creates the context and its one vhost (a server's also starts watching its listening
    /// socket, for the accepting loop).
    /// - Throws: `LWSError.contextCreationFailed` with lws' reason.
    func createContext() throws {
        let table = ProtocolTable(names: settings.registeredProtocolNames, receiveBufferSize: settings.limits.receiveBufferSize)
        self.table = table
        let usesTLS = settings.server?.tls != nil || settings.client != nil

        var info = lws_context_creation_info()
        info.options = lwskit_option_explicit_vhosts()
        // lws checks UTF-8 for servers. Not for clients: lws 4.1.6's client parser, failing a
        // text frame in the middle (its first receive buffer's worth was not UTF-8), goes on
        // writing the rest of the frame past the end of its buffer while it waits for the
        // close answer. LWSKit's own check (`ReceiveAssembler`, close reasons) fails it safely.
        if settings.client == nil { info.options |= lwskit_option_validate_utf8() }
        if usesTLS { info.options |= lwskit_option_ssl_global_init() }
        info.user = Unmanaged.passUnretained(self).toOpaque()
        info.gid = -1
        info.uid = -1
        info.pt_serv_buf_size = UInt32(settings.limits.receiveBufferSize)
        if let serverLimits = settings.server?.limits {
            info.max_http_header_data = UInt16(serverLimits.maxHeaderSize)
        }
        info.count_threads = 1
        if let timeout = settings.client?.handshakeTimeout {
            info.timeout_secs = UInt32(timeout.components.seconds)
        }
        info.protocols = table.pointer
        guard let context = lws_create_context(&info) else {
            throw LWSError.contextCreationFailed(reason: lastErrors(or: "lws_create_context returned NULL"))
        }
        self.context = context

        if let keepalive = settings.keepalive {
            let policy = UnsafeMutablePointer<lws_retry_bo_t>.allocate(capacity: 1)
            policy.initialize(to: lws_retry_bo_t())
            policy.pointee.secs_since_valid_ping = UInt16(keepalive.pingInterval.components.seconds)
            policy.pointee.secs_since_valid_hangup = UInt16(keepalive.idleTimeout.components.seconds)
            idlePolicy = policy
            info.retry_and_idle_policy = UnsafePointer(policy)
        }
        info.vhost_name = table.intern("lwskit")
        if let serverLimits = settings.server?.limits {
            info.timeout_secs_ah_idle = UInt32(serverLimits.handshakeTimeout.components.seconds)
        }
        if let timeout = settings.client?.handshakeTimeout {
            info.connect_timeout_secs = UInt32(timeout.components.seconds)
        }
        // A server's vhost listens on nothing: its peers come from the server's own listening
        // socket (see `PeerDealer`). "No listen, server" still sets up server TLS.
        info.port = settings.server != nil ? CONTEXT_PORT_NO_LISTEN_SERVER : CONTEXT_PORT_NO_LISTEN
        if let tls = settings.server?.tls { TLSSettings.apply(tls, to: &info, arena: table) }
        if let tls = settings.client?.tls { TLSSettings.apply(tls, to: &info, arena: table) }
        if settings.permessageDeflate {
            let extensions = ExtensionTable(arena: table)
            extensionTable = extensions
            info.extensions = extensions.pointer
        }
        if let http = settings.server?.http {
            let mounts = HTTPMountTable(http, protocolName: Self.httpProtocolName, arena: table)
            mountTable = mounts
            info.mounts = mounts.first
        }
        if settings.client != nil, settings.client?.tls == nil {
            // Only wss:// and https:// need the system's CA store; see `clientVhost`.
            var secureInfo = info
            secureInfo.vhost_name = table.intern("lwskit-tls")
            deferredSecureVhost = .notCreated(secureInfo)
            info.options &= ~lwskit_option_ssl_global_init()
        }
        guard let vhost = lws_create_vhost(context, &info) else {
            let reason = lastErrors(or: "lws_create_vhost returned NULL")
            lws_context_destroy(context)
            self.context = nil
            throw LWSError.contextCreationFailed(reason: reason)
        }
        self.vhost = vhost
        do {
            try watchListeningSocket()
        } catch {
            lws_context_destroy(context)
            self.context = nil
            self.vhost = nil
            throw error
        }
    }

    /// The vhost a client connection goes through: `vhost`, made at start, except for secure
    /// connections of a client without TLS settings. Those use a TLS vhost made at the first
    /// one: loading the system's CA store (OpenSSL parses every certificate of the bundle)
    /// takes about 50 ms, 300 ms under ThreadSanitizer, which every ws:// client paid at its
    /// start. With TLS settings `vhost` has TLS, so that a bad CA file or key fails at start.
    /// - Throws: `LWSError.connectionFailed` for `url`, with lws' reason, when the TLS vhost
    ///   cannot be created.
    func clientVhost(secure: Bool, context: OpaquePointer, for url: String) throws(LWSError) -> OpaquePointer {
        guard secure else { return vhost! }
        switch deferredSecureVhost {
        case nil:
            return vhost!
        case .created(let created)?:
            return created
        case .notCreated(var info)?:
            guard let created = lws_create_vhost(context, &info) else {
                let reason = lastErrors(or: "lws_create_vhost returned NULL")
                throw .connectionFailed(url: url, reason: "cannot set up TLS with the system's CA store: \(reason)")
            }
            deferredSecureVhost = .created(created)
            return created
        }
    }

    /// A TLS vhost made only when a connection first needs it.
    enum DeferredSecureVhost {
        /// Not needed yet: how to create it. Its strings live in `table`'s arena.
        case notCreated(lws_context_creation_info)
        /// Created; the context owns it.
        case created(OpaquePointer)
    }

    /// lws' error log lines since the last look, or `fallback` when it logged none.
    func lastErrors(or fallback: String) -> String {
        let lines = logSink.takeErrors()
        return lines.isEmpty ? fallback : lines.joined(separator: "; ")
    }
}
