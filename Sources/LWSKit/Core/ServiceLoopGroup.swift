import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A server's service loops: one lws context and thread each, one listening socket for all
/// (see `PeerDealer`), one bound on peers, one topic registry. The first loop accepts.
///
/// Any thread may call it; what it does to a loop goes through that loop's inbox.
final class ServiceLoopGroup: Sendable {
    /// The loops, the accepting one first.
    let loops: [ServiceLoop]
    /// The topics over every loop.
    let topics: TopicRegistry
    private let budget: PeerBudget
    private let host: String?
    private let requestedPort: Int
    private let boundPort = Atomic<Int>(0)

    /// Makes `count` loops with the same settings; nothing runs until `start`.
    /// - Parameter onEnded: Called once, when the last loop has ended.
    /// - Parameter broker: Carries the topics to other nodes; started by `start`, stopped
    ///   once the last loop has ended.
    init(count: Int, settings: LoopSettings, host: String?, port: Int, broker: (any TopicBroker)?, logger: Logger,
         onEnded: @escaping @Sendable () -> Void) {
        let budget = PeerBudget(limit: settings.server?.limits.maxConnections ?? .max)
        let topics = TopicRegistry(loopCount: count, broker: broker)
        let running = Atomic<Int>(count)
        let loopEnded: @Sendable () -> Void = {
            guard running.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return }
            topics.detach()
            broker?.stop()
            onEnded()
        }
        // Server-wide, like the bounds they enforce: the held request bodies, and the rate of
        // warning lines peers can cause (`LogBridge.Sink`).
        let bodyBudget = RequestBodyBudget(limit: settings.server?.http.maxBufferedRequestBodyBytes ?? 0)
        let logSink = LogBridge.Sink(logger: logger)
        let loops = (0..<count).map { index in
            ServiceLoop(
                settings: settings, logger: logger, topicRegistry: topics, loopIndex: index, peerBudget: budget,
                requestBodyBudget: bodyBudget, logSink: logSink, onEnded: loopEnded)
        }
        topics.attach(loops)
        self.loops = loops
        self.topics = topics
        self.budget = budget
        self.host = host
        self.requestedPort = port
    }

    /// A server dropped (started or not) lets its loops go: the topic registry holds them
    /// until they have all ended, which loops never started never do.
    deinit {
        topics.detach()
    }

    /// Binds the port, starts the broker, then starts every loop; returns once all serve. On
    /// failure nothing is left running or bound.
    /// - Throws: `LWSError.listenFailed` (with the reason: "address already in use", ...),
    ///   `.contextCreationFailed`, or what the broker's `start` threw.
    func start() throws {
        let address = try ListenAddress.resolve(host, port: requestedPort)
        let listening = try ListeningSocket.open(address, port: requestedPort, host: host)
        if let broker = topics.broker {
            do {
                try broker.start(delivering: { [topics] topic, message in topics.deliverFromBroker(message, to: topic) })
            } catch {
                close(listening.descriptor)
                throw error
            }
        }
        loops[0].dealer = PeerDealer(listening: listening, loops: loops, budget: budget)
        var started: [ServiceLoop] = []
        do {
            // The accepting loop last: once it runs, peers arrive, and every loop is ready.
            for loop in loops.dropFirst() + [loops[0]] {
                try loop.start()
                started.append(loop)
            }
        } catch {
            if !started.contains(where: { $0 === loops[0] }) {
                loops[0].dealer = nil
                close(listening.descriptor)
            }
            for loop in started { loop.requestStop(grace: .zero) }
            for loop in started { loop.waitUntilFinished() }
            topics.broker?.stop()  // (the loops that never started never end, so `loopEnded` will not)
            throw error
        }
        boundPort.store(listening.port, ordering: .releasing)
    }

    /// The port listened on (the one the system chose for 0); 0 before `start`.
    var port: Int { boundPort.load(ordering: .acquiring) }

    /// Asks every loop to stop (see `ServiceLoop.requestStop`).
    func requestStop(grace: Duration) {
        for loop in loops { loop.requestStop(grace: grace) }
    }

    /// Blocks until every loop has ended and been joined (see `ServiceLoop.waitUntilFinished`).
    func waitUntilFinished() {
        for loop in loops { loop.waitUntilFinished() }
    }

    /// Suspends until every loop has ended.
    func ended() async {
        for loop in loops { await loop.ended() }
    }

    /// Each loop's counts, in loop order.
    var statistics: [LoopStatistics] {
        loops.map { $0.counters.snapshot(threadName: $0.threadName) }
    }
}
