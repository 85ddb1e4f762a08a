/// Settings shared by every connection a `WebSocketClient` opens.
public struct WebSocketClientConfiguration: Sendable {
    /// Sizes and limits applied to every connection.
    public var limits: WebSocketLimits
    /// Pings for idle connections and the idle timeout; nil leaves libwebsockets' defaults.
    public var keepalive: KeepalivePolicy?
    /// What `wss://` connections trust and present; nil (the default) verifies servers against
    /// the system's CA store.
    public var tls: TLSClientConfiguration?
    /// Offer permessage-deflate (RFC 7692) in every handshake; used when the server accepts it.
    /// Default false.
    public var permessageDeflate: Bool
    /// How long each step of connecting may take (the TCP connect, the TLS handshake, the
    /// server's answer to the opening handshake) before the connection fails with
    /// `LWSError.connectionFailed`. Whole seconds. Default 10 seconds.
    public var handshakeTimeout: Duration

    /// Creates a configuration.
    /// - Parameters:
    ///   - limits: Sizes and limits; the defaults are documented on `WebSocketLimits`.
    ///   - keepalive: Ping interval and idle timeout; nil (the default) for libwebsockets' own.
    ///   - tls: Trust roots, client certificate and opt-outs for `wss://`; nil for the system's CAs.
    ///   - permessageDeflate: Offer permessage-deflate. Default false.
    ///   - handshakeTimeout: Longest wait for each step of connecting, whole seconds (1 s ... 1 h).
    public init(
        limits: WebSocketLimits = .init(), keepalive: KeepalivePolicy? = nil, tls: TLSClientConfiguration? = nil,
        permessageDeflate: Bool = false, handshakeTimeout: Duration = .seconds(10)
    ) {
        self.limits = limits
        self.keepalive = keepalive
        self.tls = tls
        self.permessageDeflate = permessageDeflate
        self.handshakeTimeout = handshakeTimeout
    }

    /// Checks the configuration can work.
    /// - Throws: `LWSError.invalidConfiguration` naming what is wrong.
    func validate() throws {
        try limits.validate()
        try keepalive?.validate()
        try tls?.validate()
        try validateWholeSeconds(handshakeTimeout, name: "handshakeTimeout")
    }
}
