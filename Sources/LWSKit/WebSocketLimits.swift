/// Sizes and limits that apply to every connection of a server or client.
public struct WebSocketLimits: Sendable, Hashable {
    /// The largest message accepted, in bytes; a larger one closes the connection with 1009
    /// (`.messageTooBig`). Default 16 MiB.
    public var maxMessageSize: Int
    /// The largest chunk of a message one receive step delivers (lws `rx_buffer_size` and
    /// `pt_serv_buf_size`). Larger means fewer, bigger copies for large messages. Default 64 KiB;
    /// at least 16 KiB (smaller values break TLS with permessage-deflate in lws 4.1).
    public var receiveBufferSize: Int
    /// The largest frame this side sends; a longer message goes out as continuation frames so
    /// one big send does not hold the loop. Default 64 KiB.
    public var maxFrameSize: Int

    /// Creates limits; every parameter has the documented default.
    /// - Parameters:
    ///   - maxMessageSize: Largest accepted message in bytes (1 B ... 1 GiB).
    ///   - receiveBufferSize: Receive chunk size in bytes (16 KiB ... 16 MiB).
    ///   - maxFrameSize: Largest outgoing frame in bytes (1 B ... 16 MiB).
    public init(maxMessageSize: Int = 16 << 20, receiveBufferSize: Int = 64 << 10, maxFrameSize: Int = 64 << 10) {
        self.maxMessageSize = maxMessageSize
        self.receiveBufferSize = receiveBufferSize
        self.maxFrameSize = maxFrameSize
    }

    /// Checks every value is in range.
    /// - Throws: `LWSError.invalidConfiguration` naming the first value that is not.
    func validate() throws {
        guard (1...(1 << 30)).contains(maxMessageSize) else {
            throw LWSError.invalidConfiguration("maxMessageSize \(maxMessageSize) is outside 1...\(1 << 30)")
        }
        guard ((16 << 10)...(16 << 20)).contains(receiveBufferSize) else {
            throw LWSError.invalidConfiguration("receiveBufferSize \(receiveBufferSize) is outside \(16 << 10)...\(16 << 20)")
        }
        guard (1...(16 << 20)).contains(maxFrameSize) else {
            throw LWSError.invalidConfiguration("maxFrameSize \(maxFrameSize) is outside 1...\(16 << 20)")
        }
    }
}
