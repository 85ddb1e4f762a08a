import Synchronization

/// The bytes of unfinished HTTP request bodies a server holds over all its loops, against the
/// server-wide bound `HTTPServerConfiguration.maxBufferedRequestBodyBytes`. Any thread.
final class RequestBodyBudget: Sendable {
    /// The most bytes held at once.
    let limit: Int
    private let held = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Counts `count` more bytes, unless that would go over the limit.
    func take(_ count: Int) -> Bool {
        var current = held.load(ordering: .relaxed)
        while count <= limit - current {
            let (exchanged, original) = held.compareExchange(expected: current, desired: current + count, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Stops counting `count` bytes taken earlier (the body is complete, or abandoned).
    func giveBack(_ count: Int) {
        let before = held.wrappingSubtract(count, ordering: .relaxed).oldValue
        assert(before >= count, "gave back more body bytes than were taken")
    }
}
