/// What one service loop of a server has done so far (`WebSocketServer.statistics`).
///
/// Counts are read without stopping the loop: each is exact, but the values of one snapshot
/// may be a few events apart.
public struct LoopStatistics: Sendable, Hashable {
    /// The loop's thread name ("lwskit-N"), as `ps -T` and `/proc/PID/task/*/comm` show it.
    public var threadName: String
    /// Peers connected to this loop now (WebSocket and HTTP, including handshakes in progress).
    public var connections: Int
    /// Peers this loop has been given since the server started.
    public var connectionsAccepted: Int
    /// Whole WebSocket messages received.
    public var messagesReceived: Int
    /// WebSocket payload bytes received.
    public var bytesReceived: Int
    /// WebSocket messages queued for sending: sent with `send`, or published to subscribers here.
    public var messagesSent: Int
    /// The bytes of those messages as queued: the payload of a message sent with `send`, the
    /// frames (headers included) of a published one, shared by its subscribers on this loop.
    public var bytesSent: Int
}
