import CLibWebSockets

/// Puts LWSKit's TLS configurations into lws' vhost creation info. Every string goes into the
/// arena that outlives the context, since lws reads some of them after creation.
enum TLSSettings {
    /// A server vhost: certificate chain, key, the CA client certificates must chain to, and
    /// the protocols ALPN offers (lws' default is "h2,http/1.1").
    static func apply(_ tls: TLSServerConfiguration, to info: inout lws_context_creation_info, arena: ProtocolTable) {
        info.alpn = arena.intern(tls.http2 ? "h2,http/1.1" : "http/1.1")
        place(tls.certificateChain, arena, path: &info.ssl_cert_filepath,
              memory: &info.server_ssl_cert_mem, length: &info.server_ssl_cert_mem_len)
        place(tls.privateKey, arena, path: &info.ssl_private_key_filepath,
              memory: &info.server_ssl_private_key_mem, length: &info.server_ssl_private_key_mem_len)
        if let authority = tls.clientCertificateAuthority {
            info.options |= lwskit_option_require_valid_client_cert()
            place(authority, arena, path: &info.ssl_ca_filepath,
                  memory: &info.server_ssl_ca_mem, length: &info.server_ssl_ca_mem_len)
        }
    }

    /// A client vhost: trust roots (instead of the system's store, when given) and the client
    /// certificate.
    static func apply(_ tls: TLSClientConfiguration, to info: inout lws_context_creation_info, arena: ProtocolTable) {
        if tls.trustRoots != nil { info.options |= lwskit_option_disable_os_ca_certs() }
        place(tls.trustRoots, arena, path: &info.client_ssl_ca_filepath,
              memory: &info.client_ssl_ca_mem, length: &info.client_ssl_ca_mem_len)
        place(tls.certificate, arena, path: &info.client_ssl_cert_filepath,
              memory: &info.client_ssl_cert_mem, length: &info.client_ssl_cert_mem_len)
        place(tls.privateKey, arena, path: &info.client_ssl_private_key_filepath,
              memory: &info.client_ssl_key_mem, length: &info.client_ssl_key_mem_len)
    }

    /// Puts `source` where lws reads it: a file path, or PEM text with its length (lws takes
    /// each certificate and key either way). Nothing for nil.
    private static func place(
        _ source: PEMSource?, _ arena: ProtocolTable, path: inout UnsafePointer<CChar>?,
        memory: inout UnsafeRawPointer?, length: inout UInt32
    ) {
        switch source {
        case .file(let file): path = arena.intern(file)
        case .pem(let text):
            memory = UnsafeRawPointer(arena.intern(text))
            length = UInt32(text.utf8.count)
        case nil: break
        }
    }

    /// The `ssl_connection` flags of a client connection.
    static func connectionFlags(secure: Bool, _ tls: TLSClientConfiguration?) -> Int32 {
        lwskit_client_tls_flags(
            secure ? 1 : 0, tls?.allowSelfSigned == true ? 1 : 0, tls?.skipHostnameCheck == true ? 1 : 0
        )
    }

    /// Turns lws' client failure text plus its error log lines into one clear reason.
    ///
    /// lws reports every TLS failure as "connect SSL err 1 …"; OpenSSL's verdict is only in an
    /// error log line such as "SSL error: unable to get local issuer certificate
    /// (preverify_ok=0;err=20;depth=1)". That verdict becomes "certificate verify failed: …".
    static func explain(failure message: String?, logged: [String]) -> String {
        if let verdict = logged.lazy.compactMap(verifyVerdict).last {
            return "TLS handshake failed: certificate verify failed: \(verdict)"
        }
        var parts: [String] = []
        if let message, !message.isEmpty { parts.append(message) }
        parts += logged
        let reason = parts.isEmpty ? "connection failed" : parts.joined(separator: ": ")
        // lws 4.1 reports every failed TCP connect as "Unable to connect"; errno is gone by then.
        if reason.hasPrefix("Unable to connect") {
            return "TCP connection failed: refused or unreachable (libwebsockets: \(reason))"
        }
        if reason.contains("SSL") || reason.contains("tls") {
            return "TLS handshake failed: \(reason)"
        }
        if reason == "read failed" {
            // A TLS-only server closes a plain client's connection at its first bytes.
            return "the server closed the connection without answering the opening handshake "
                + "(libwebsockets: read failed); if it speaks only TLS, use wss:// or https://"
        }
        if reason.contains("lws_getaddrinfo46 failed") {
            return "the host name does not resolve (libwebsockets: \(reason))"
        }
        if reason.hasPrefix("HS: ") {
            return "the server's answer to the opening handshake is not acceptable: \(handshakeVerdict(reason)) (libwebsockets: \(reason))"
        }
        return reason
    }

    /// What lws' terse "HS: …" client handshake failures mean.
    private static func handshakeVerdict(_ reason: String) -> String {
        switch reason {
        case _ where reason.contains("not 101"): "no 101 Switching Protocols"
        case _ where reason.contains("unauthorized"): "401 Unauthorized"
        case _ where reason.contains("Accept hash wrong"): "its Sec-WebSocket-Accept does not match the key sent"
        case _ where reason.contains("ACCEPT missing"): "no Sec-WebSocket-Accept"
        case _ where reason.contains("UPGRADE") || reason.contains("Upgrade to"): "no valid Upgrade: websocket"
        case _ where reason.contains("PROTOCOL") || reason.contains("match protocol"): "a subprotocol the client did not offer"
        case _ where reason.contains("EXT:"): "an extension the client did not offer, or bad extension parameters"
        case _ where reason.contains("Redirect"): "a redirect that cannot be followed"
        default: "invalid response"
        }
    }

    /// Whether a client's TLS failure is lws 4.1.6's ex-data race rather than a verdict.
    ///
    /// Every context created with `LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT` (which TLS needs) puts a
    /// new OpenSSL ex-data index into one process-wide variable; a handshake already running on
    /// another context then cannot find its wsi in the verify callback and fails with "can't get
    /// wsi from ssl privdata". Connecting again succeeds unless yet another context is created
    /// during the new handshake.
    ///
    /// Where lws' own formatter is in use (not on x86-64: see `LogBridge`), it formats every
    /// log line in one static buffer shared by all threads, so the marker line can be
    /// overwritten by another context's line before it reaches LWSKit. The failure it
    /// leaves in lws' own message, OpenSSL's empty error ("lib(0)::reason(1)") with no verify
    /// verdict logged, counts too.
    static func isSpuriousVerifyFailure(_ message: String?, _ logged: [String]) -> Bool {
        let marker = "can't get wsi from ssl privdata"
        if message?.contains(marker) == true || logged.contains(where: { $0.contains(marker) }) { return true }
        return message?.contains("lib(0)::reason(1)") == true && !logged.contains { verifyVerdict($0) != nil }
    }

    private static func verifyVerdict(_ line: String) -> String? {
        guard let start = line.firstRange(of: "SSL error: ") else { return nil }
        var verdict = line[start.upperBound...]
        if let details = verdict.firstRange(of: " (preverify_ok") { verdict = verdict[..<details.lowerBound] }
        return String(verdict)
    }
}
