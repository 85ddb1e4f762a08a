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
    private let budget: PeerBudget
    private let counters: LoopCounters

    init(descriptor: Int32, budget: PeerBudget, counters: LoopCounters) {
        self.descriptor = descriptor
        self.budget = budget
        self.counters = counters
    }

    /// Hands the socket over; the caller now owns it and the peer's place.
    func take() -> Int32? {
        defer { descriptor = nil }
        return descriptor
    }

    deinit {
        guard let descriptor else { return }
        close(descriptor)
        budget.release()
        counters.connections.wrappingSubtract(1, ordering: .relaxed)
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
    /// Where the search for the least busy loop starts next (accepting loop only).
    private var nextStart = 0
    /// Whether peers are being turned away for `maxConnections` (logged once per episode).
    private var isRefusingPeers = false

    init(listening: ListeningSocket, loops: [ServiceLoop], budget: PeerBudget) {
        self.listening = listening
        self.loops = loops
        self.budget = budget
    }

    /// The accepting loop's thread: accepts up to `batch` waiting peers and deals them out.
    /// - Returns: the `errno` of a failed accept other than "none waiting", or 0.
    func acceptWaitingPeers(on acceptingLoop: ServiceLoop, batch: Int = 64) -> Int32 {
        for _ in 0..<batch {
            guard let descriptor = acceptWaitingPeer(on: listening.descriptor) else {
                let code = errno
                return code == EAGAIN || code == EWOULDBLOCK || code == EINTR || code == ECONNABORTED ? 0 : code
            }
            deal(descriptor, from: acceptingLoop)
        }
        return 0
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
        loop.counters.connections.wrappingAdd(1, ordering: .relaxed)
        loop.counters.connectionsAccepted.wrappingAdd(1, ordering: .relaxed)
        let peer = DealtPeer(descriptor: descriptor, budget: budget, counters: loop.counters)
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
