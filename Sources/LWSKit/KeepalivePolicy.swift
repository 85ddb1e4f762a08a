/// When to ping an idle connection and when to give up on it (libwebsockets'
/// `retry_and_idle_policy`, whole seconds).
public struct KeepalivePolicy: Sendable, Hashable {
    /// After this long without traffic from the peer, send it a ping.
    public var pingInterval: Duration
    /// After this long without traffic from the peer (a pong counts), close the connection.
    /// Must exceed `pingInterval`.
    public var idleTimeout: Duration

    /// A server's default: ping a peer 60 s after its last pong (or its handshake), drop it
    /// when 120 s pass without one, as uWebSockets and Bun drop idle peers after 120 s.
    /// (libwebsockets 4.1.6 counts only pongs and the handshake as signs of life, so a busy
    /// peer is pinged every minute too.) Clients that answer pings stay connected; a peer that
    /// went silent, or stopped after a frame header, goes.
    public static let serverDefault = KeepalivePolicy(pingInterval: .seconds(60), idleTimeout: .seconds(120))

    /// Creates a policy.
    /// - Parameters:
    ///   - pingInterval: Idle time before a ping, 1...65535 seconds.
    ///   - idleTimeout: Idle time before hanging up, longer than `pingInterval`, at most 65535 seconds.
    public init(pingInterval: Duration, idleTimeout: Duration) {
        self.pingInterval = pingInterval
        self.idleTimeout = idleTimeout
    }

    /// Checks the values fit libwebsockets' whole-second, 16-bit fields.
    /// - Throws: `LWSError.invalidConfiguration` naming the problem.
    func validate() throws {
        guard (1...65535).contains(pingInterval.components.seconds), (1...65535).contains(idleTimeout.components.seconds) else {
            throw LWSError.invalidConfiguration("keepalive times must be 1...65535 whole seconds")
        }
        guard idleTimeout > pingInterval else {
            throw LWSError.invalidConfiguration("keepalive idleTimeout (\(idleTimeout)) must exceed pingInterval (\(pingInterval))")
        }
    }
}
