/// What a service loop's lws context and its one vhost are made of: what every loop has, and
/// what only a server's or a client's has (`role`).
struct LoopSettings: Sendable {
    /// Protocol names in table order; for a server each has its handler at the same index.
    var protocolNames: [String]
    /// Sizes and limits every connection of this loop uses.
    var limits: WebSocketLimits
    /// The idle policy of every connection of this loop; nil for lws' default.
    var keepalive: KeepalivePolicy?
    /// Whether WebSocket connections negotiate permessage-deflate (RFC 7692).
    var permessageDeflate = false
    /// A server's loop or a client's.
    var role: Role

    /// What a loop serves.
    enum Role: Sendable {
        case server(ServerLoopSettings)
        case client(ClientLoopSettings)
    }

    /// The server part; nil for a client's loop.
    var server: ServerLoopSettings? {
        if case .server(let server) = role { server } else { nil }
    }

    /// The client part; nil for a server's loop.
    var client: ClientLoopSettings? {
        if case .client(let client) = role { client } else { nil }
    }

    /// The protocol names registered with lws: for a server, the WebSocket ones and then
    /// LWSKit's own HTTP protocol (lws binds route mounts to it by name).
    var registeredProtocolNames: [String] {
        server == nil ? protocolNames : protocolNames + [ServiceLoop.httpProtocolName]
    }
}

/// What only a server's loops have.
struct ServerLoopSettings: Sendable {
    /// The handlers of server connections, by protocol index.
    var handlers: [WebSocketHandler]
    /// What the server admits.
    var limits: ServerLimits
    /// The certificate and key: the vhost then speaks only TLS (wss, https).
    var tls: TLSServerConfiguration?
    /// Static mounts, dynamic routes and request-body limits.
    var http: HTTPServerConfiguration
    /// Which web pages may open WebSockets.
    var origins: OriginPolicy
    /// What happens to topic subscribers that fall behind.
    var slowSubscribers: SlowSubscriberPolicy
    /// Each protocol's `shouldUpgrade`, by protocol index.
    var upgradeDeciders: [UpgradeDecider?]
    /// Each protocol's path pattern, by protocol index (nil: every path).
    var webSocketPaths: [PathPattern?]
}

/// What only a client's loop has.
struct ClientLoopSettings: Sendable {
    /// The two kinds of client loop.
    enum Kind { case webSocket, http }

    /// What the loop's connections are: WebSocket or HTTP.
    var kind: Kind
    /// What the client trusts and presents; nil trusts the system's CA store.
    var tls: TLSClientConfiguration?
    /// How long each step of connecting may take; nil for lws' defaults.
    var handshakeTimeout: Duration?
}
