/// Sizes and limits that apply to every connection of a server or client.
public struct WebSocketLimits: Sendable, Hashable {
    /// The largest message accepted, in bytes; a larger one closes the connection with 1009
    /// (`.messageTooBig`). Default 16 MiB.
    public var maxMessageSize: Int
    /// The largest chunk of a message one receive step delivers (lws `rx_buffer_size` and
    /// `pt_serv_buf_size`), and the most one write hands to the socket. Larger means fewer
    /// system calls and callbacks for large messages: echoing 1 MiB messages ran at about 0.8 of
    /// the speed with 64 KiB as with 1 MiB. lws allocates it per connection when the first
    /// message arrives (idle connections do not pay for it), and a connection touches only as
    /// much of it as its largest read. Default 1 MiB; at least 16 KiB (smaller values break TLS
    /// with permessage-deflate in lws 4.1).
    public var receiveBufferSize: Int
    /// The largest frame this side sends; a longer message goes out as continuation frames so
    /// one big send does not hold the loop. Frames larger than `receiveBufferSize` are copied
    /// by lws in part (it writes at most that much per call). Default 1 MiB.
    public var maxFrameSize: Int
    /// When a server connection's unsent bytes (`bufferedAmount`) exceed this, LWSKit stops
    /// reading from its peer (lws `rx_flow_control`) until they fall to `sendLowWaterMark`: an
    /// echo-style server facing a peer that never reads stays bounded. Client connections never
    /// pause reading (a client and a server both waiting for the other to read would deadlock);
    /// `maxBufferedBytes` bounds them. Default 1 MiB.
    public var sendHighWaterMark: Int
    /// The unsent byte count at which reading resumes. Default 256 KiB.
    public var sendLowWaterMark: Int
    /// The most unsent bytes a connection holds; `send` beyond it throws
    /// `LWSError.sendBufferFull` instead of growing without bound. Default 64 MiB.
    public var maxBufferedBytes: Int
    /// For connections read with `messages` (the async style): when more received bytes than
    /// this wait for the application, LWSKit stops reading from the peer until half of them
    /// have been taken. Default 1 MiB.
    public var receiveHighWaterMark: Int

    /// Creates limits; every parameter has the documented default.
    /// - Parameters:
    ///   - maxMessageSize: Largest accepted message in bytes (1 B ... 1 GiB).
    ///   - receiveBufferSize: Receive chunk size in bytes (16 KiB ... 16 MiB).
    ///   - maxFrameSize: Largest outgoing frame in bytes (1 B ... 16 MiB).
    ///   - sendHighWaterMark: Unsent bytes above which reading pauses (≥ `sendLowWaterMark`).
    ///   - sendLowWaterMark: Unsent bytes at which reading resumes (≥ 0).
    ///   - maxBufferedBytes: Most unsent bytes per connection (≥ `sendHighWaterMark`).
    ///   - receiveHighWaterMark: Received bytes waiting for the application above which reading
    ///     pauses (≥ 1).
    public init(
        maxMessageSize: Int = 16 << 20, receiveBufferSize: Int = 1 << 20, maxFrameSize: Int = 1 << 20,
        sendHighWaterMark: Int = 1 << 20, sendLowWaterMark: Int = 256 << 10, maxBufferedBytes: Int = 64 << 20,
        receiveHighWaterMark: Int = 1 << 20
    ) {
        self.maxMessageSize = maxMessageSize
        self.receiveBufferSize = receiveBufferSize
        self.maxFrameSize = maxFrameSize
        self.sendHighWaterMark = sendHighWaterMark
        self.sendLowWaterMark = sendLowWaterMark
        self.maxBufferedBytes = maxBufferedBytes
        self.receiveHighWaterMark = receiveHighWaterMark
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
        guard sendLowWaterMark >= 0, sendLowWaterMark <= sendHighWaterMark, sendHighWaterMark <= maxBufferedBytes else {
            throw LWSError.invalidConfiguration(
                "need 0 <= sendLowWaterMark (\(sendLowWaterMark)) <= sendHighWaterMark (\(sendHighWaterMark)) <= maxBufferedBytes (\(maxBufferedBytes))")
        }
        guard receiveHighWaterMark >= 1 else {
            throw LWSError.invalidConfiguration("receiveHighWaterMark \(receiveHighWaterMark) must be at least 1")
        }
    }
}
