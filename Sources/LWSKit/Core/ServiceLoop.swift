import CLibWebSockets
import Dispatch
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Owns one `lws_context` and the one thread that services it.
///
/// Every libwebsockets call happens on that thread, except `lws_cancel_service`. Work from
/// other threads goes into a locked inbox followed by `lws_cancel_service()`, which makes
/// `lws_service` return; the thread runs the inbox after every `lws_service` call, outside any
/// lws callback. (DESIGN.md drains it in `LWS_CALLBACK_EVENT_WAIT_CANCELLED`; there, a client
/// connect or a close would call into lws from inside lws' broadcast of that reason, a pattern
/// lws issues report double frees with.)
final class ServiceLoop: @unchecked Sendable {
    /// A unit of work for the loop thread.
    typealias Job = @Sendable () -> Void

    let logger: Logger
    let settings: LoopSettings
    let logSink: LogBridge.Sink
    /// Called on the loop thread as it ends, whatever ended it (shutdown, a failed start, lws).
    private let onEnded: @Sendable () -> Void

    /// The loop thread's name, "lwskit-N", unique in the process (visible in ps and /proc).
    let threadName: String
    private static let nextNumber = Atomic<Int>(1)

    private let inbox = LockedValue(LoopInbox())
    private let endGroup = DispatchGroup()
    private let joined = LockedValue(false)
    private var thread: LoopThread?
    /// The loop thread's `pthread_self()` while it runs, 0 otherwise. Published by the thread
    /// itself, so it is right from the thread's first instruction on and never outlives it.
    private let loopThreadID = Atomic<UInt>(0)

    // State below is touched only on the loop thread (or before it starts / after it is joined).
    var context: OpaquePointer?
    var vhost: OpaquePointer?
    /// The TLS vhost of a client loop without TLS settings (see `clientVhost`); nil for other loops.
    var deferredSecureVhost: DeferredSecureVhost?
    var table: ProtocolTable?
    var mountTable: HTTPMountTable?
    var extensionTable: ExtensionTable?
    /// HTTP client requests in flight; an entry lives until lws destroys its wsi.
    var httpClientRequests: [ObjectIdentifier: HTTPClientExchange] = [:]
    /// WebSocket handshakes accepted and not yet established, by wsi.
    var acceptedUpgrades: [OpaquePointer: AcceptedUpgrade] = [:]
    /// HTTP requests being answered on the server, by wsi (h1 connection or h2 stream).
    var httpExchanges: [OpaquePointer: HTTPServerExchange] = [:]
    /// HTTP/1.1 connections whose reading is paused while lws still sends the answer to the
    /// request before their pipelined one (`holdPipelinedRequests`).
    var heldPipelines: Set<OpaquePointer> = []
    /// HTTP/1.1 connections that have had a request answered and stay open for the next.
    var keptAlive: Set<OpaquePointer> = []
    /// The bytes of unfinished request bodies held, against the server-wide bound.
    let requestBodyBudget: RequestBodyBudget
    /// The earliest deadline of a request body being received; nil while none is.
    var nextBodyDeadline: ContinuousClock.Instant?
    /// Wakes the loop at `nextBodyDeadline` (see `sweepBodyDeadlines`).
    let bodyDeadlineTimer = WakeTimer()
    /// LWS_PRE bytes of headroom followed by room for one HTTP body chunk: where HTTP bodies are
    /// written from and HTTP client responses read into, one chunk at a time.
    let httpChunkBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: HTTPServerExchange.chunkSize + Int(lwskit_pre()), alignment: 16)
    private(set) var connections: [ObjectIdentifier: WebSocketConnection] = [:]
    /// When the connections' announced frame lengths were last checked (see
    /// `checkAnnouncedFramesAfterService`).
    var lastAnnouncedFrameCheck = ContinuousClock.now
    /// Whether `announcedFrameTimer` is armed for the next check.
    var isAnnouncedFrameCheckArmed = false
    /// Wakes the loop when a deferred check of announced frame lengths is allowed.
    let announcedFrameTimer = WakeTimer()
    /// Where a server connection's small messages are framed together for one write.
    private(set) lazy var frameBatch = FrameBatch(capacity: min(settings.limits.receiveBufferSize, 64 << 10))
    /// The network wsi of every peer adopted and not destroyed yet (servers).
    var admittedPeers = Set<OpaquePointer>()
    /// Between adopting a peer's socket and lws creating its wsi.
    var isAdmittingPeer = false
    /// The accepting loop's front door: set before `start`, dropped as the loop ends.
    var dealer: PeerDealer?
    /// The server's peers over every loop (servers); nil for clients.
    let peerBudget: PeerBudget?
    /// What this loop has done, for `WebSocketServer.statistics`.
    let counters = LoopCounters()
    private var stopDeadline: ContinuousClock.Instant?
    /// Wakes the loop when the grace period of a stop runs out.
    private let stopDeadlineTimer = WakeTimer()
    /// Jobs `schedule` took on the loop thread, run when `lws_service` returns.
    private var readyJobs: [Job] = []
    /// An empty array with capacity, swapped with `readyJobs` or the inbox's jobs to run them
    /// without copying (a copy made `removeAll(keepingCapacity:)` allocate anew every time).
    private var spareJobs: [Job] = []
    /// Armed while `readyJobs` is not empty, so that `lws_service` returns at once (see
    /// `schedule`).
    private let readyJobsTimer = WakeTimer()
    /// From `lws_context_destroy` on: no poll follows, and lws' timer lists go with the context.
    private var isDestroyingContext = false
    /// The `retry_and_idle_policy` lws keeps a pointer to, when the settings have a keepalive.
    var idlePolicy: UnsafeMutablePointer<lws_retry_bo_t>?

    /// The topics of this loop's connections (servers); nil for clients.
    let topics: TopicTable?

    /// This loop's thread as a Swift executor (set at the end of `init`).
    private(set) var executor: LoopExecutor!

    /// This loop's place in its server's group (0 for the accepting loop and for clients).
    let loopIndex: Int
    /// The server's topics over all its loops; nil for clients.
    let topicRegistry: TopicRegistry?

    init(
        settings: LoopSettings, logger: Logger, topicRegistry: TopicRegistry? = nil, loopIndex: Int = 0,
        peerBudget: PeerBudget? = nil, requestBodyBudget: RequestBodyBudget? = nil, logSink: LogBridge.Sink? = nil,
        onEnded: @escaping @Sendable () -> Void = {}
    ) {
        self.requestBodyBudget = requestBodyBudget ?? RequestBodyBudget(limit: settings.server?.http.maxBufferedRequestBodyBytes ?? 0)
        self.loopIndex = loopIndex
        self.topicRegistry = topicRegistry
        self.settings = settings
        self.peerBudget = peerBudget
        // (Connections with permessage-deflate or on HTTP/2 streams frame published messages
        // themselves, from the messages: kept only where such connections can exist.)
        let framesPerConnection = settings.permessageDeflate || settings.server?.tls?.http2 == true
        self.topics = topicRegistry.map { TopicTable(registry: $0, loopIndex: loopIndex, keepsMessages: framesPerConnection) }
        self.logger = logger
        self.onEnded = onEnded
        self.logSink = logSink ?? LogBridge.Sink(logger: logger)
        self.threadName = "lwskit-\(Self.nextNumber.wrappingAdd(1, ordering: .relaxed).oldValue)"
        self.executor = LoopExecutor(loop: self)
    }

    deinit {
        idlePolicy?.deallocate()
        httpChunkBuffer.deallocate()
    }

    // MARK: Any thread

    /// Starts the loop thread and waits until its context exists (or failed to).
    /// - Throws: `LWSError.listenFailed` or `.contextCreationFailed` with lws' own reason.
    func start() throws {
        let outcome = LockedValue<Result<Void, LWSError>?>(nil)
        let ready = DispatchSemaphore(value: 0)
        endGroup.enter()
        do {
            thread = try LoopThread { [self] in
                run { result in
                    outcome.withLock { $0 = result }
                    ready.signal()
                }
                endGroup.leave()
            }
        } catch {
            endGroup.leave()
            throw error
        }
        ready.wait()
        if case .failure(let error) = outcome.withLock({ $0! }) {
            waitUntilFinished()
            throw error
        }
    }

    /// Whether the loop takes work (it has started and is not ending).
    var isRunning: Bool { inbox.withLock { $0.context != nil } }

    /// Whether the caller runs on the loop thread (where lws may be called directly).
    var isLoopThread: Bool { loopThreadID.load(ordering: .acquiring) == UInt(pthread_self()) }

    /// Runs `job` on the loop thread: at once when called there, otherwise through the inbox.
    /// - Throws: `LWSError.notRunning` once the loop is stopping or stopped.
    func execute(_ job: @escaping Job) throws {
        if isLoopThread {
            job()
            return
        }
        try inbox.withLock { inbox in
            guard let context = inbox.context else { throw LWSError.notRunning }
            inbox.post(job, waking: context)
        }
    }

    /// Runs `job` on the loop thread soon (`LoopExecutor`'s jobs; work that must not run inside
    /// an lws callback): called on the loop thread, once lws has finished the events it is
    /// servicing (a whole read's messages, say), without a wake-up through lws' event pipe;
    /// called elsewhere, through the inbox.
    ///
    /// lws runs its due timers (timeouts, keepalive, the grace deadline) before it polls, and
    /// then polls until the next event or timer, which may be 30 seconds away. A job queued by
    /// a timer's callback (a task waiting for the messages of a connection lws just timed out)
    /// would wait that long; so the first job queued also arms a timer due at once, which makes
    /// that poll return immediately.
    /// - Returns: false, queuing nothing, once the loop no longer takes work.
    func schedule(_ job: @escaping Job) -> Bool {
        guard isLoopThread else { return post(job) }
        guard let context else { return false }
        if readyJobs.isEmpty, !isDestroyingContext {
            readyJobsTimer.scheduleNow(context)
        }
        readyJobs.append(job)
        return true
    }

    /// Runs the jobs `schedule` queued on the loop thread, and those they queue in turn.
    private func runReadyJobs() {
        guard !readyJobs.isEmpty else { return }
        while !readyJobs.isEmpty {
            var jobs = takeSpareJobs()
            swap(&jobs, &readyJobs)
            runAndRecycle(&jobs)
        }
        if !isDestroyingContext { readyJobsTimer.cancel() }
    }

    /// Queues `job` for the loop thread once `delay` has passed, from any thread. The wait
    /// happens on a dispatch timer, not on the loop.
    /// - Parameter refused: Called instead, on another thread, if by then the loop no longer
    ///   takes work.
    func post(after delay: Duration, _ job: @escaping Job, refused: @escaping Job = {}) {
        let (seconds, attoseconds) = delay.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in
            if !post(job) { refused() }
        }
    }

    /// Queues `job` for the loop thread's next turn, from any thread; on the loop thread too,
    /// for lws calls that must not happen inside the callback being dispatched.
    /// - Returns: false, queuing nothing, once the loop no longer takes work.
    func post(_ job: @escaping Job) -> Bool {
        inbox.withLock { inbox in
            guard let context = inbox.context else { return false }
            inbox.post(job, waking: context)
            return true
        }
    }

    /// Asks the loop to stop: connections get a close frame (1001), and the context is destroyed
    /// once they are all closed or `grace` has passed. Returns at once; safe to call repeatedly.
    func requestStop(grace: Duration) {
        try? execute { [self] in beginStopping(grace: grace) }
    }

    /// Blocks until the loop thread has ended and been joined. On the loop thread itself (a
    /// handler calling shutdown) it returns at once: the loop ends after the handler returns.
    func waitUntilFinished() {
        guard !isLoopThread else {
            logger.debug("shutdown requested from a handler: the loop ends once the handler returns")
            return
        }
        endGroup.wait()
        let joinNow = joined.withLock { joined -> Bool in
            defer { joined = true }
            return !joined
        }
        if joinNow { thread?.join() }
    }

    /// Suspends until the loop thread has ended, without blocking the caller's thread.
    func ended() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            endGroup.notify(queue: .global()) { continuation.resume() }
        }
    }

    // MARK: Loop thread

    /// The connection table entry for `connection`, kept until lws destroys its wsi.
    func register(_ connection: WebSocketConnection) {
        assertLoopThread()
        connections[ObjectIdentifier(connection)] = connection
    }

    /// Drops the loop's reference to `connection`. The last one gone while stopping wakes the
    /// loop, to end it now: lws, which destroyed the wsi from a timer (an abandoned handshake),
    /// would otherwise go back to waiting until the grace period ran out.
    func forget(_ connection: WebSocketConnection) {
        assertLoopThread()
        connections[ObjectIdentifier(connection)] = nil
        if isStopping, connections.isEmpty, !isDestroyingContext, let context { lws_cancel_service(context) }
    }

    /// Stops a debug build when called off the loop thread: for what only the loop thread may
    /// touch (its connection table, its lws objects).
    func assertLoopThread(_ function: StaticString = #function) {
        assert(isLoopThread, "ServiceLoop.\(function) called off \(threadName)")
    }

    /// Whether the loop is closing its connections and will end.
    var isStopping: Bool { stopDeadline != nil }

    /// Runs every job waiting in the inbox. Called after every `lws_service` call.
    ///
    /// Every turn calls it, so an empty inbox costs only the lock: the jobs are swapped out for
    /// `spareJobs`, whose capacity goes back and forth, instead of copied and reallocated.
    func drainInbox() {
        assertLoopThread()
        var jobs = takeSpareJobs()
        inbox.withLock { inbox in
            if !inbox.jobs.isEmpty { swap(&jobs, &inbox.jobs) }
        }
        runAndRecycle(&jobs)
    }

    /// `spareJobs`, moved out so that the caller holds its only reference (appending to a
    /// shared array would copy it).
    private func takeSpareJobs() -> [Job] {
        var spare: [Job] = []
        swap(&spare, &spareJobs)
        return spare
    }

    /// Runs `jobs`, then keeps the emptied array (and its capacity) as `spareJobs`.
    private func runAndRecycle(_ jobs: inout [Job]) {
        for job in jobs { job() }
        jobs.removeAll(keepingCapacity: true)
        spareJobs = jobs
    }

    private func run(reportStart: (Result<Void, LWSError>) -> Void) {
        lwskit_name_current_thread(threadName)
        loopThreadID.store(UInt(pthread_self()), ordering: .releasing)
        defer {
            loopThreadID.store(0, ordering: .releasing)
            onEnded()
        }
        LogBridge.registerCurrentThread(logSink)
        defer { LogBridge.unregisterCurrentThread() }
        do {
            try createContext()
        } catch let error as LWSError {
            reportStart(.failure(error))
            return
        } catch {
            reportStart(.failure(.contextCreationFailed(reason: "\(error)")))
            return
        }
        inbox.withLock { $0.context = context }
        reportStart(.success(()))

        while !shouldEnd() {
            if lws_service(context, 0) < 0 {
                logger.error("lws_service failed; the service loop ends")
                break
            }
            runReadyJobs()
            if let due = nextBodyDeadline, ContinuousClock.now >= due { sweepBodyDeadlines() }
            dealer?.resumeIfDue()
            checkAnnouncedFramesAfterService()
            // Every turn, not only after a wake-up: one lock, and a wake-up that never arrived
            // (the event descriptor read by someone else's bug) delays jobs until lws' next
            // wake-up instead of stranding every later one behind them.
            drainInbox()
            topics?.deliverPending(betweenCallbacks: true)
        }

        let abandoned = inbox.withLock { inbox -> [Job] in
            inbox.context = nil
            defer { inbox.jobs.removeAll() }
            return inbox.jobs
        }
        if !abandoned.isEmpty { logger.debug("dropped \(abandoned.count) jobs queued after stop") }
        for timer in [readyJobsTimer, bodyDeadlineTimer, announcedFrameTimer, stopDeadlineTimer] + (dealer.map { [$0.resumeTimer] } ?? []) {
            timer.cancel()
        }
        isDestroyingContext = true
        lws_context_destroy(context)
        context = nil
        // Tasks the destruction woke (their connections closed) run here, as they would have.
        runReadyJobs()
        // HTTP requests waiting to connect again (see `TLSSettings.isSpuriousVerifyFailure`)
        // have no wsi whose destruction would fail them.
        for exchange in httpClientRequests.values { exchange.finish(.failure(LWSError.notRunning)) }
        vhost = nil
        dealer = nil
        deferredSecureVhost = nil
        connections.removeAll()
        admittedPeers.removeAll()
        httpExchanges.removeAll()
        heldPipelines.removeAll()
        keptAlive.removeAll()
        httpClientRequests.removeAll()
        table = nil
        mountTable = nil
        extensionTable = nil
        logger.debug("service loop ended")
    }

    private func shouldEnd() -> Bool {
        guard let stopDeadline else { return false }
        return connections.isEmpty || ContinuousClock.now >= stopDeadline
    }

    private func beginStopping(grace: Duration) {
        guard stopDeadline == nil, let context else { return }
        let deadline = ContinuousClock.now + grace
        stopDeadline = deadline
        logger.debug("stopping: closing \(connections.count) connections, grace \(grace)")
        for connection in connections.values {
            connection.stop()
        }
        stopDeadlineTimer.schedule(context, at: deadline)
    }
}

extension Duration {
    /// The duration as an lws timer delay (`lws_sul_schedule`): whole microseconds, at least 1.
    var timerMicroseconds: lws_usec_t {
        let (seconds, attoseconds) = components
        return lws_usec_t(max(1, seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
    }
}
