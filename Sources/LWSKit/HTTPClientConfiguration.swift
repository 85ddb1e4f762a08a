/// Settings shared by every request an `HTTPClient` makes.
public struct HTTPClientConfiguration: Sendable {
    /// What `https://` requests trust and present; nil (the default) verifies servers against
    /// the system's CA store.
    public var tls: TLSClientConfiguration?
    /// The longest a request may take, from connecting to the last body byte. Default 30 s.
    public var timeout: Duration
    /// The largest response body accepted. Default 64 MiB.
    public var maxResponseSize: Int

    /// Creates a configuration.
    /// - Parameters:
    ///   - tls: Trust roots, client certificate and opt-outs for https; nil for the system's CAs.
    ///   - timeout: The whole-request time limit, 1 ms...1 hour. Default 30 seconds.
    ///   - maxResponseSize: The largest response body, 0...1 GiB. Default 64 MiB.
    public init(tls: TLSClientConfiguration? = nil, timeout: Duration = .seconds(30), maxResponseSize: Int = 64 << 20) {
        self.tls = tls
        self.timeout = timeout
        self.maxResponseSize = maxResponseSize
    }

    func validate() throws {
        try tls?.validate()
        guard timeout >= .milliseconds(1), timeout <= .seconds(3600) else {
            throw LWSError.invalidConfiguration("timeout \(timeout) is outside 1 ms...1 hour")
        }
        guard (0...(1 << 30)).contains(maxResponseSize) else {
            throw LWSError.invalidConfiguration("maxResponseSize \(maxResponseSize) is outside 0...1 GiB")
        }
    }
}
