/// Which web pages may open WebSocket connections to a server, judged by the `Origin` header
/// a browser sends with every opening handshake (RFC 6455 section 10.2).
///
/// Without a check any page a user visits could connect to the server with the user's cookies
/// (cross-site WebSocket hijacking). A handshake from another origin is answered
/// `403 Forbidden`, with a body naming the origin, and never upgraded. Handshakes without
/// `Origin` (clients that are not browsers: LWSKit's own, curl, Python) are not affected.
public struct OriginPolicy: Sendable, Equatable {
    /// Whether every origin is allowed.
    public let allowsAnyOrigin: Bool
    /// Origins allowed besides the server's own, as configured ("https://app.example.com").
    public let allowedOrigins: [String]

    /// Pages of the server itself only: an `Origin` whose host and port are those of the
    /// request's `Host` header. The default.
    public static let sameOrigin = OriginPolicy(allowing: [])

    /// Any page: the check is off.
    public static let anyOrigin = OriginPolicy(allowing: ["*"])

    /// The server's own pages and those of `origins`: each a scheme, a host and an optional
    /// port ("https://app.example.com", "http://localhost:3000"), or "*" for any origin.
    /// `WebSocketServer` rejects an entry it cannot read as an origin.
    public init(allowing origins: [String]) {
        allowsAnyOrigin = origins.contains("*")
        allowedOrigins = origins.filter { $0 != "*" }
    }

    /// Why a handshake whose `Origin` header is `origin` (nil when it has none), sent with
    /// `Host` header `host`, must be refused; nil when it may proceed.
    func refusal(origin: String?, host: String?) -> String? {
        guard let origin, !allowsAnyOrigin else { return nil }
        if let page = WebOrigin(origin) {
            if let host, page.isServed(byHost: host) { return nil }
            if allowedOrigins.contains(where: { WebOrigin($0) == page }) { return nil }
        }
        let allowed = ["this server's own"] + allowedOrigins
        return "pages from origin \(origin) may not open WebSockets here (allowed: \(allowed.joined(separator: ", ")))"
    }

    /// Checks every allowed origin can be read.
    /// - Throws: `LWSError.invalidConfiguration` naming the first that cannot.
    func validate() throws {
        for origin in allowedOrigins where WebOrigin(origin) == nil {
            throw LWSError.invalidConfiguration(
                "allowed origin '\(origin)' is not a scheme, host and optional port (e.g. https://app.example.com) or *")
        }
    }
}
