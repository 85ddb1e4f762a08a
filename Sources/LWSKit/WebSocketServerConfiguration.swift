/// Everything a `WebSocketServer` needs: where to listen, its protocol table and its limits.
public struct WebSocketServerConfiguration: Sendable {
    /// The address or interface to listen on ("127.0.0.1", "::1", "eth0"); nil for all
    /// interfaces, IPv4 and IPv6. Default nil.
    public var host: String?
    /// The TCP port; 0 picks a free one (read it back from `WebSocketServer.port`).
    public var port: Int
    /// The protocol table. A client that names no subprotocol is served by the first entry;
    /// one that names only unknown subprotocols is refused by libwebsockets.
    public var protocols: [WebSocketProtocol]
    /// Sizes and limits applied to every connection.
    public var limits: WebSocketLimits
    /// Pings for idle connections and the idle timeout; nil leaves libwebsockets' defaults.
    public var keepalive: KeepalivePolicy?

    /// Creates a configuration.
    /// - Parameters:
    ///   - host: The address or interface to listen on; nil (the default) for all of them.
    ///   - port: The TCP port, 0...65535 (0: any free port).
    ///   - protocols: At least one protocol, with distinct names.
    ///   - limits: Sizes and limits; the defaults are documented on `WebSocketLimits`.
    ///   - keepalive: Ping interval and idle timeout; nil (the default) for libwebsockets' own.
    public init(
        host: String? = nil, port: Int, protocols: [WebSocketProtocol], limits: WebSocketLimits = .init(),
        keepalive: KeepalivePolicy? = nil
    ) {
        self.host = host
        self.port = port
        self.protocols = protocols
        self.limits = limits
        self.keepalive = keepalive
    }

    /// Checks the configuration can work.
    /// - Throws: `LWSError.invalidConfiguration` naming what is wrong.
    func validate() throws {
        guard (0...65535).contains(port) else {
            throw LWSError.invalidConfiguration("port \(port) is outside 0...65535")
        }
        if let host, host.isEmpty || host.utf8.contains(0) {
            throw LWSError.invalidConfiguration("host must be a non-empty address or interface name (or nil for all)")
        }
        guard !protocols.isEmpty else {
            throw LWSError.invalidConfiguration("a server needs at least one protocol")
        }
        var seen = Set<String>()
        for entry in protocols {
            guard WebSocketProtocol.isValidName(entry.name) else {
                throw LWSError.invalidConfiguration("protocol name '\(entry.name)' is not a valid token")
            }
            guard seen.insert(entry.name).inserted else {
                throw LWSError.invalidConfiguration("protocol name '\(entry.name)' appears twice")
            }
        }
        try limits.validate()
        try keepalive?.validate()
    }
}
