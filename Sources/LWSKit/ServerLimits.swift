/// Limits on what a server accepts from peers before any WebSocket or HTTP exchange starts:
/// how many may be connected, how long and how large their opening request may be.
public struct ServerLimits: Sendable, Hashable {
    /// The most peers connected at once: WebSocket and HTTP connections, TLS or not, including
    /// those still in their handshake (an HTTP/2 connection counts once, whatever its streams).
    /// A peer beyond it is disconnected as soon as it is accepted; connected peers are not
    /// affected. Counted over all of a server's service threads. Default 10,000. A server also
    /// stops accepting at the process's descriptor limit (`ulimit -n`): further peers wait in
    /// the listen backlog, and accepting is tried again every 100 ms (logged once).
    public var maxConnections: Int
    /// How long a connected peer may take to send a complete request head (a WebSocket opening
    /// handshake or an HTTP request line and headers); a slower one is disconnected. Whole
    /// seconds. Default 10 seconds.
    public var handshakeTimeout: Duration
    /// The largest request head (request line and headers) in bytes; a peer sending a larger
    /// one is disconnected (lws' header table). Default 4096.
    public var maxHeaderSize: Int

    /// Creates limits; every parameter has the documented default.
    /// - Parameters:
    ///   - maxConnections: Most peers connected at once (1 ... 1,000,000).
    ///   - handshakeTimeout: Longest wait for a complete request head, whole seconds (1 s ... 1 h).
    ///   - maxHeaderSize: Largest request head in bytes (1024 ... 65535).
    public init(maxConnections: Int = 10_000, handshakeTimeout: Duration = .seconds(10), maxHeaderSize: Int = 4096) {
        self.maxConnections = maxConnections
        self.handshakeTimeout = handshakeTimeout
        self.maxHeaderSize = maxHeaderSize
    }

    /// Checks every value is in range.
    /// - Throws: `LWSError.invalidConfiguration` naming the first value that is not.
    func validate() throws {
        guard (1...1_000_000).contains(maxConnections) else {
            throw LWSError.invalidConfiguration("maxConnections \(maxConnections) is outside 1...1000000")
        }
        try validateWholeSeconds(handshakeTimeout, name: "handshakeTimeout")
        guard (1024...65535).contains(maxHeaderSize) else {
            throw LWSError.invalidConfiguration("maxHeaderSize \(maxHeaderSize) is outside 1024...65535")
        }
    }
}

/// Checks that a timeout libwebsockets takes in seconds is a whole number of them, 1 s ... 1 h.
/// - Throws: `LWSError.invalidConfiguration` naming `name`.
func validateWholeSeconds(_ timeout: Duration, name: String) throws {
    let (seconds, attoseconds) = timeout.components
    guard attoseconds == 0, (1...3600).contains(seconds) else {
        throw LWSError.invalidConfiguration("\(name) \(timeout) is not a whole number of seconds in 1...3600")
    }
}
