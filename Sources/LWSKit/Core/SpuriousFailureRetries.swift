/// The reconnections a TLS client gets after lws' ex-data race spoils its handshake (see
/// `TLSSettings.isSpuriousVerifyFailure`): up to 8, after 20 ms doubling to 640 ms, 2.5 s in
/// all, so that a burst of context creations elsewhere in the process (a test suite starting
/// dozens of servers and clients) can pass.
struct SpuriousFailureRetries {
    private static let limit = 8
    private var used = 0

    /// Takes one reconnection: how long to wait before it, or nil once all are used.
    mutating func next() -> Duration? {
        guard used < Self.limit else { return nil }
        used += 1
        return .milliseconds(20 << min(used - 1, 5))
    }
}
