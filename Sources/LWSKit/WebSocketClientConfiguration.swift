/// Settings shared by every connection a `WebSocketClient` opens.
public struct WebSocketClientConfiguration: Sendable {
    /// Sizes and limits applied to every connection.
    public var limits: WebSocketLimits

    /// Creates a configuration.
    /// - Parameter limits: Sizes and limits; the defaults are documented on `WebSocketLimits`.
    public init(limits: WebSocketLimits = .init()) {
        self.limits = limits
    }

    /// Checks the configuration can work.
    /// - Throws: `LWSError.invalidConfiguration` naming what is wrong.
    func validate() throws {
        try limits.validate()
    }
}
