/// A server's topics over all its loops: how many connections subscribe to each topic on each
/// loop, and the way a publish reaches every loop that has subscribers. Any thread.
///
/// A publish goes to each such loop through that loop's inbox, in the order the publisher
/// made it, so per-publisher order holds across loops; each loop frames it once for its own
/// subscribers (`TopicTable`), and a burst of publishes costs a loop one wake-up (the inbox
/// wakes a loop only when its first job arrives).
///
/// A subscription on its way to its loop already counts there (`expectSubscription`): a
/// message its caller publishes after `subscribe(to:)` returns then goes to that loop, behind
/// the subscription in the same inbox. A loop that turns out to have no subscriber ignores it.
///
/// With a `TopicBroker`, a topic is subscribed there while any loop has interest in it (from
/// the first subscription on its way to the last subscriber leaving), under the same lock, so
/// the broker hears those changes in the order they happened; every publish made here goes to
/// the broker after the loops, and what the broker brings from other nodes goes to the loops
/// only (`deliverFromBroker`).
final class TopicRegistry: Sendable {
    private struct Entry {
        /// Subscribers over every loop.
        var subscribers = 0
        /// Per loop: subscribers there plus subscriptions on their way.
        var interest: [Int]
    }

    /// The topics and the loops, behind one lock (a publish reads both).
    private struct State {
        var entries: [String: Entry] = [:]
        /// The loops, by index; emptied when they have all ended (they hold this registry).
        var loops: [ServiceLoop] = []
    }

    private let loopCount: Int
    /// Carries the topics to other nodes; nil for a server on its own.
    let broker: (any TopicBroker)?
    private let state = LockedValue(State())

    init(loopCount: Int, broker: (any TopicBroker)?) {
        self.loopCount = loopCount
        self.broker = broker
    }

    /// Throws `LWSError.invalidArgument` if the broker cannot carry `topic` (or `message`).
    func checkBrokerLimits(topic: String, message: Message? = nil) throws {
        try broker?.limits.check(topic: topic, message: message)
    }

    /// Sets the loops, once, before they start.
    func attach(_ loops: [ServiceLoop]) {
        state.withLock { $0.loops = loops }
    }

    /// Lets go of the loops once all have ended.
    func detach() {
        state.withLock { $0.loops = [] }
    }

    /// Loop `index` gained (`change` 1) or lost (-1) a subscriber of `topic`.
    func add(_ change: Int, to topic: String, on index: Int) {
        update(topic) { entry in
            entry.subscribers += change
            entry.interest[index] += change
        }
    }

    /// A subscription to `topic` is on its way to loop `index` (`arrived` when it got there).
    func expectSubscription(to topic: String, on index: Int) {
        update(topic) { $0.interest[index] += 1 }
    }

    /// The subscription `expectSubscription` announced has arrived (or will not).
    func subscriptionArrived(to topic: String, on index: Int) {
        update(topic) { $0.interest[index] -= 1 }
    }

    /// How many connections subscribe to `topic` now, over every loop.
    func count(of topic: String) -> Int {
        state.withLock { $0.entries[topic]?.subscribers ?? 0 }
    }

    /// Hands `message` to every loop that may have subscribers of `topic`, except `excluded`
    /// there, then to the broker for the other nodes.
    /// - Throws: `LWSError.notRunning` once the server is shut down; `.invalidArgument` past
    ///   the broker's limits (nothing is published then).
    func publish(_ message: Message, to topic: String, excluding excluded: ObjectIdentifier?) throws {
        try checkBrokerLimits(topic: topic, message: message)
        try publishLocally(message, to: topic, excluding: excluded)
        broker?.publish(message, to: topic)
    }

    /// What another node published: for this node's subscribers only. Dropped once the server
    /// is shut down.
    func deliverFromBroker(_ message: Message, to topic: String) {
        try? publishLocally(message, to: topic, excluding: nil)
    }

    private func publishLocally(_ message: Message, to topic: String, excluding excluded: ObjectIdentifier?) throws {
        let (targets, loops) = state.withLock { state -> ([ServiceLoop], [ServiceLoop]) in
            guard let interest = state.entries[topic]?.interest, !state.loops.isEmpty else { return ([], state.loops) }
            return (interest.indices.compactMap { interest[$0] > 0 ? state.loops[$0] : nil }, state.loops)
        }
        if targets.isEmpty {
            guard loops.contains(where: \.isRunning) else { throw LWSError.notRunning }
            return
        }
        var delivered = false
        for loop in targets {
            if (try? loop.execute({ loop.topics?.publish(message, to: topic, excluding: excluded) })) != nil { delivered = true }
        }
        if !delivered { throw LWSError.notRunning }
    }

    /// Applies `change` to `topic`'s entry; the broker hears when the topic gains its first
    /// interest on this node or loses its last.
    private func update(_ topic: String, _ change: (inout Entry) -> Void) {
        state.withLock { state in
            let existed = state.entries[topic] != nil
            var entry = state.entries[topic] ?? Entry(interest: Array(repeating: 0, count: loopCount))
            change(&entry)
            let exists = !(entry.interest.allSatisfy { $0 == 0 } && entry.subscribers == 0)
            state.entries[topic] = exists ? entry : nil
            switch (existed, exists) {
            case (false, true): broker?.subscribe(to: topic)
            case (true, false): broker?.unsubscribe(from: topic)
            default: break
            }
        }
    }
}
