/// Everything a `WebSocketServer` needs: where to listen, its protocol table and its limits.
public struct WebSocketServerConfiguration: Sendable {
    /// Where to listen: an IPv4 or IPv6 address ("127.0.0.1", "::1"), an interface name ("lo",
    /// "eth0": its first IPv4 address, else its first IPv6 one) or a host name ("localhost":
    /// the first IPv4 address it resolves to, else the first IPv6 one). The server listens on
    /// that one address only, which must be this machine's: otherwise `start()` throws
    /// `LWSError.listenFailed` naming it. nil for all interfaces, IPv4 and IPv6. Default nil.
    public var host: String?
    /// The TCP port; 0 picks a free one (read it back from `WebSocketServer.port`).
    public var port: Int
    /// The protocol table. A client that names no subprotocol is served by the first entry
    /// whose `path` matches; one that names subprotocols by the first of them served here (if
    /// its `path` matches). One that names only unknown subprotocols is answered 400, with a
    /// body naming those it offered and those served; one whose path no entry serves, 404.
    /// May be empty for an HTTP-only server.
    public var protocols: [WebSocketProtocol]
    /// Sizes and limits applied to every connection.
    public var limits: WebSocketLimits
    /// How many peers may be connected, and how long and large their opening request may be.
    public var serverLimits: ServerLimits
    /// Pings for idle connections and the idle timeout. Default `KeepalivePolicy.serverDefault`
    /// (ping after 60 s without traffic, drop after 120 s); nil never pings or drops an idle
    /// peer (libwebsockets' own default), so a peer that goes silent stays until it closes.
    public var keepalive: KeepalivePolicy?
    /// The certificate and key: set, the port speaks only TLS (`wss://`, `https://`, HTTP/2
    /// through ALPN). Default nil: plain `ws://` and `http://`.
    public var tls: TLSServerConfiguration?
    /// Static file mounts and dynamic routes served on the same port. Default: none (every
    /// plain HTTP request is answered 404).
    public var http: HTTPServerConfiguration
    /// Accept permessage-deflate (RFC 7692) from clients that offer it: messages are then
    /// compressed both ways. Default false.
    public var permessageDeflate: Bool
    /// Which web pages may open WebSockets here, by the handshake's `Origin` header (browsers
    /// send one; other clients need not). Default `OriginPolicy.sameOrigin`: a page from
    /// another host or port is answered 403.
    public var origins: OriginPolicy
    /// What happens to a topic subscriber whose unsent bytes would pass a bound (see
    /// `WebSocketConnection.subscribe(to:)`). Default: drop what does not fit past 1 MiB.
    public var slowSubscribers: SlowSubscriberPolicy
    /// How many service threads serve the port (see `ServiceThreads`). Default `.one`: every
    /// handler on one thread.
    public var serviceThreads: ServiceThreads
    /// Carries topics to the other server processes of a service (`RedisTopicBroker` from
    /// `LWSKitRedis`), so that a publish on any node reaches the subscribers of every node. A
    /// broker serves one server. Default nil: topics stay in this process.
    public var topicBroker: (any TopicBroker)?

    /// Creates a configuration.
    /// - Parameters:
    ///   - host: The address, interface or host name to listen on (one address of this
    ///     machine); nil (the default) for all interfaces.
    ///   - port: The TCP port, 0...65535 (0: any free port).
    ///   - protocols: At least one protocol, with distinct names.
    ///   - limits: Sizes and limits; the defaults are documented on `WebSocketLimits`.
    ///   - serverLimits: Connection count, handshake time and header size; the defaults are
    ///     documented on `ServerLimits`.
    ///   - keepalive: Ping interval and idle timeout; default `KeepalivePolicy.serverDefault`
    ///     (ping after 60 s idle, drop after 120 s); nil never pings or drops idle peers.
    ///   - tls: Certificate and key for wss/https; nil (the default) for plain ws/http.
    ///   - http: Static mounts, routes and the request-body limit. Default: none.
    ///   - permessageDeflate: Accept permessage-deflate from clients offering it. Default false.
    ///   - origins: The web pages that may connect; default `.sameOrigin` (the server's own).
    ///   - slowSubscribers: The bound on a topic subscriber's unsent bytes and what happens
    ///     past it; default `SlowSubscriberPolicy()` (1 MiB, drop).
    ///   - serviceThreads: How many loops serve the port; default `.one`.
    ///   - topicBroker: Carries topics to other server processes; default nil (none).
    public init(
        host: String? = nil, port: Int, protocols: [WebSocketProtocol], limits: WebSocketLimits = .init(),
        serverLimits: ServerLimits = .init(), keepalive: KeepalivePolicy? = .serverDefault, tls: TLSServerConfiguration? = nil, http: HTTPServerConfiguration = .init(),
        permessageDeflate: Bool = false, origins: OriginPolicy = .sameOrigin, slowSubscribers: SlowSubscriberPolicy = .init(),
        serviceThreads: ServiceThreads = .one, topicBroker: (any TopicBroker)? = nil
    ) {
        self.host = host
        self.port = port
        self.protocols = protocols
        self.limits = limits
        self.serverLimits = serverLimits
        self.keepalive = keepalive
        self.tls = tls
        self.http = http
        self.permessageDeflate = permessageDeflate
        self.origins = origins
        self.slowSubscribers = slowSubscribers
        self.serviceThreads = serviceThreads
        self.topicBroker = topicBroker
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
        guard !protocols.isEmpty || !http.mounts.isEmpty || !http.routes.isEmpty else {
            throw LWSError.invalidConfiguration("a server needs at least one protocol, mount or route")
        }
        var seen = Set<String>()
        for entry in protocols {
            guard WebSocketProtocol.isValidName(entry.name) else {
                throw LWSError.invalidConfiguration("protocol name '\(entry.name)' is not a valid token")
            }
            guard entry.name != ServiceLoop.httpProtocolName else {
                throw LWSError.invalidConfiguration("protocol name '\(entry.name)' is reserved for LWSKit's HTTP routes")
            }
            guard seen.insert(entry.name).inserted else {
                throw LWSError.invalidConfiguration("protocol name '\(entry.name)' appears twice")
            }
            if let path = entry.path, PathPattern(path) == nil {
                throw LWSError.invalidConfiguration(
                    "protocol '\(entry.name)': path '\(path)' must start with /; parameters are ':name' and '*' only last")
            }
        }
        try limits.validate()
        try serverLimits.validate()
        try keepalive?.validate()
        try tls?.validate()
        try http.validate()
        try origins.validate()
        try slowSubscribers.validate()
        try serviceThreads.validate()
        try topicBroker?.limits.validate()
    }
}
