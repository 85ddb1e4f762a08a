import Synchronization

/// The mutable state of one connection.
///
/// `acceptsSends` and `subprotocol` are read from any thread; everything else belongs to the
/// loop thread and is touched only there (hence `@unchecked Sendable`, confined to the core).
final class ConnectionState: @unchecked Sendable {
    /// False once `close` was called or the connection ended: `send` then fails at once.
    let acceptsSends = Atomic<Bool>(true)
    /// What other threads read or change, under one lock (one allocation per connection).
    let shared = LockedValue(Shared())
    /// Bytes accepted by `send` and not yet handed to the socket: added on the sender's thread,
    /// subtracted on the loop thread as they are written.
    let bufferedBytes = Atomic<Int>(0)

    /// Where the connection is in its life: opening, open, closing, ended.
    var lifecycle = ConnectionLifecycle()
    /// The lws connection while it exists; nil before a client connects and after WSI_DESTROY.
    var wsi: OpaquePointer?
    /// A `wss://` client's way to connect again when lws' TLS ex-data race spoils a handshake
    /// (see `TLSSettings.isSpuriousVerifyFailure`); nil for servers and plain clients.
    var reconnect: (@Sendable () -> Void)?
    /// How many more times, and after what delays, `reconnect` may be used.
    var spuriousRetries = SpuriousFailureRetries()
    /// When a client last asked lws to connect: a handshake that ends unanswered after the
    /// client's handshake timeout is reported as timed out.
    var connectStarted: ContinuousClock.Instant?
    /// Whether the connection is a stream of an HTTP/2 connection (RFC 8441, as Chromium opens
    /// WebSockets on https pages served over HTTP/2): frames must fit HTTP/2's 16 KiB frames
    /// and the stream's send window.
    var isHTTP2Stream = false
    var sendQueue = SendQueue()
    /// The topics this connection is subscribed to (it leaves them all when it ends).
    var subscriptions: Set<String> = []
    /// Published messages not queued because the backlog was full (readable from any thread).
    let droppedPublishes = Atomic<Int>(0)
    /// Whether the backlog is dropping messages now (logged once per episode).
    var isDroppingPublishes = false
    var assembler: ReceiveAssembler
    /// With permessage-deflate, the messages passed to `lws_write` in the last WRITEABLE, kept
    /// alive until the next one: zlib keeps reading the last input after `lws_write` returns
    /// while lws drains pending compressed output (and it drains before the next WRITEABLE).
    var recentlyWritten: [OutboundMessage] = []
    /// The handler asked for a `.writeable` event.
    var wantsWriteable = false
    /// `lws_callback_on_writable` was called and its WRITEABLE has not arrived yet.
    var writeableRequested = false
    /// Why reading from the peer is paused; reading resumes when no reason is left.
    var readingPausedFor: Set<ReadingPause> = []
    /// Whether lws was last told to stop reading (`lws_rx_flow_control`), which can lag
    /// `readingPausedFor` until the loop applies it between callbacks.
    var readingPausedInLWS = false
    /// The task running an `async` upgrade decision, while it runs (cancelled if the
    /// connection goes first).
    var upgradeDecision: Task<Void, Never>?
    /// Whether `shared.sendWaiters` may be non-empty: lets WRITEABLE skip the lock when nobody
    /// waits.
    let hasSendWaiters = Atomic<Bool>(false)

    /// The part of the state other threads use.
    struct Shared {
        /// The negotiated subprotocol, set when the connection is established.
        var subprotocol: String?
        /// For streaming connections: received messages waiting for `messages`. Set once, on
        /// the loop thread, before the connection is handed to the application.
        var inbound: InboundQueue?
        /// Tasks suspended in `sendWithBackpressure` until `bufferedAmount` falls to the low-water mark, by
        /// ticket.
        var sendWaiters: [UInt64: CheckedContinuation<Void, Error>] = [:]
        /// How the connection ended; set just before its last event is delivered.
        var termination: WebSocketTermination?
        /// A client's handshake answer, kept when it arrives.
        var responseHeaders: HTTPHeaders?
    }

    /// Reasons to stop reading from the peer.
    enum ReadingPause: Hashable {
        /// More than the send high-water mark waits to be written (server connections).
        case sendBacklog
        /// More than the receive high-water mark waits for the application (streaming).
        case receiveBacklog
        /// The application's `async` upgrade decision has not returned.
        case upgradeDecision
    }

    init(maxMessageSize: Int) {
        self.assembler = ReceiveAssembler(maxMessageSize: maxMessageSize)
    }
}
