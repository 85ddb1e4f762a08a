import CLibWebSockets
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How many peers a server has across its loops, against `ServerLimits.maxConnections`.
final class PeerBudget: Sendable {
    let limit: Int
    private let connected = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Peers connected now, over every loop.
    var count: Int { connected.load(ordering: .relaxed) }

    /// Takes a place for one more peer; false when the server is full.
    func take() -> Bool {
        if connected.wrappingAdd(1, ordering: .relaxed).newValue <= limit { return true }
        connected.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    /// Gives back the place of a peer that left (or was never served).
    func release() {
        connected.wrappingSubtract(1, ordering: .relaxed)
    }
}

/// A peer accepted and on its way to a loop, not yet adopted by lws. Dropped without being
/// adopted (its loop stopped first, its job was abandoned), it closes the socket and gives its
/// place back.
final class DealtPeer: @unchecked Sendable {
    private var descriptor: Int32?
    /// The loop it was dealt to, which counts it.
    private let loop: ServiceLoop

    init(descriptor: Int32, to loop: ServiceLoop) {
        self.descriptor = descriptor
        self.loop = loop
        loop.peerArrived()
    }

    /// Hands the socket over; the caller now owns it and the peer's place.
    func take() -> Int32? {
        defer { descriptor = nil }
        return descriptor
    }

    deinit {
        guard let descriptor else { return }
        close(descriptor)
        loop.peerLeft()
    }
}

/// The front door of a server: its listening socket, watched by its first loop, which accepts
/// each waiting peer and deals it to the loop with the fewest peers (ties go round). A peer
/// over `ServerLimits.maxConnections`, or arriving while the server stops, is disconnected as
/// soon as it is accepted; connected peers are not affected.
///
/// Fewest peers, not round robin: WebSocket connections live long and leave unevenly, and a
/// loop that lost its peers should get the next ones. A peer is counted on its loop from the
/// moment it is dealt, so one read's burst of arrivals spreads out.
final class PeerDealer: @unchecked Sendable {
    let listening: ListeningSocket
    let loops: [ServiceLoop]
    let budget: PeerBudget
    // State below is the accepting loop thread's.
    /// Where the search for the least busy loop starts next.
    private var nextStart = 0
    /// Whether peers are being turned away for `maxConnections` (logged once per episode).
    private var isRefusingPeers = false
    /// The raw wsi through which lws watches the listening socket; nil before `watch` and
    /// once lws destroyed it.
    private(set) var listenerWsi: OpaquePointer?
    /// Until when the listening socket is not watched (accepting failed: out of descriptors);
    /// nil while it is watched.
    private var pausedUntil: ContinuousClock.Instant?
    /// Whether accepting has been failing since it last worked (logged once per episode).
    private var isPaused = false
    /// Wakes the accepting loop at `pausedUntil`. Cancelled before its context is destroyed.
    let resumeTimer = WakeTimer()

    init(listening: ListeningSocket, loops: [ServiceLoop], budget: PeerBudget) {
        self.listening = listening
        self.loops = loops
        self.budget = budget
    }

    /// Starts watching the listening socket through `vhost`, as a raw descriptor lws polls
    /// (RAW_RX_FILE when peers wait).
    /// - Throws: `LWSError.contextCreationFailed` if lws cannot watch it.
    func watch(through vhost: OpaquePointer, of acceptingLoop: ServiceLoop) throws {
        var descriptor = lws_sock_file_fd_type()
        descriptor.filefd = listening.descriptor
        guard let wsi = lws_adopt_descriptor_vhost(vhost, LWS_ADOPT_RAW_FILE_DESC, descriptor, nil, nil) else {
            throw LWSError.contextCreationFailed(reason: acceptingLoop.lastErrors(or: "cannot watch the listening socket"))
        }
        listenerWsi = wsi
    }

    /// WSI_DESTROY of any wsi of the accepting loop: forgets the listener's once it is gone.
    func wsiDestroyed(_ wsi: OpaquePointer) {
        if wsi == listenerWsi { listenerWsi = nil }
    }

    /// RAW_RX_FILE on the listening socket: accepts up to `batch` waiting peers and deals them
    /// out.
    ///
    /// Out of descriptors (EMFILE, ENFILE) or memory, the peer stays in the backlog and the
    /// socket stays readable: the dealer stops watching it for 100 ms rather than spin. (On an
    /// lws timer, not a dispatch one: libdispatch needs descriptors of its own for its first
    /// timer, and stops the process when it cannot have them.)
    func acceptWaitingPeers(on acceptingLoop: ServiceLoop, batch: Int = 64) {
        guard let listenerWsi else { return }
        for _ in 0..<batch {
            guard let descriptor = acceptWaitingPeer(on: listening.descriptor) else {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR || code == ECONNABORTED { break }
                pause(listenerWsi, after: code, on: acceptingLoop)
                return
            }
            deal(descriptor, from: acceptingLoop)
        }
        if isPaused {
            acceptingLoop.logger.notice("accepting peers again")
            isPaused = false
        }
    }

    private func pause(_ listenerWsi: OpaquePointer, after code: Int32, on acceptingLoop: ServiceLoop) {
        if !isPaused {
            acceptingLoop.logger.warning("cannot accept peers: \(String(cString: strerror(code))); they wait in the listen backlog, tried again every 100 ms")
            isPaused = true
        }
        lws_rx_flow_control(listenerWsi, 0)
        let resume = ContinuousClock.now + .milliseconds(100)
        pausedUntil = resume
        if let context = acceptingLoop.context { resumeTimer.schedule(context, at: resume) }
    }

    /// After each turn of the accepting loop: watches the listening socket again once its
    /// pause is over.
    func resumeIfDue() {
        guard let due = pausedUntil, ContinuousClock.now >= due else { return }
        pausedUntil = nil
        if let listenerWsi { lws_rx_flow_control(listenerWsi, 1) }
    }

    private func deal(_ descriptor: Int32, from acceptingLoop: ServiceLoop) {
        guard !acceptingLoop.isStopping else {
            close(descriptor)
            return
        }
        guard budget.take() else {
            close(descriptor)
            if !isRefusingPeers {
                acceptingLoop.logger.warning("refusing new peers: \(budget.limit) connected, the limit (ServerLimits.maxConnections)")
                isRefusingPeers = true
            }
            return
        }
        if isRefusingPeers {
            acceptingLoop.logger.notice("accepting new peers again: \(budget.count - 1) connected")
            isRefusingPeers = false
        }
        let loop = leastBusyLoop()
        let peer = DealtPeer(descriptor: descriptor, to: loop)
        if loop === acceptingLoop {
            loop.adopt(peer)
        } else {
            _ = loop.post { loop.adopt(peer) }
        }
    }

    private func leastBusyLoop() -> ServiceLoop {
        guard loops.count > 1 else { return loops[0] }
        var best = nextStart, fewest = Int.max
        for offset in 0..<loops.count {
            let index = (nextStart + offset) % loops.count
            let count = loops[index].counters.connections.load(ordering: .relaxed)
            if count < fewest { best = index; fewest = count }
        }
        nextStart = (best + 1) % loops.count
        return loops[best]
    }
}
