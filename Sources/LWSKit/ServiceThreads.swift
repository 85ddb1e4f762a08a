/// How many service threads (loops) a server runs: one libwebsockets context each, all
/// serving one port. Each connection lives on one loop for its whole life, and its handler,
/// its `executor` and its topic deliveries run on that loop's thread.
///
/// The default is one. Then every handler of a server runs on one thread, as libwebsockets
/// users expect, and state shared between handlers needs no lock. With more, handlers of
/// different connections run at the same time on different threads: state they share must
/// be `Sendable` (a lock, an actor, or topics, which span the loops). `.perCore` is what
/// SwiftNIO users expect; a server that is busy on one core gains from it.
public enum ServiceThreads: Sendable, Hashable {
    /// Exactly this many loops, 1 ... 256.
    case count(Int)
    /// One loop per core this process may run on (its CPU affinity, as `taskset` or a
    /// container's cpuset restricts it).
    case perCore

    /// One loop: every handler on one thread. The default.
    public static let one = ServiceThreads.count(1)

    /// The number of loops this means on this machine now.
    public var resolved: Int {
        switch self {
        case .count(let count): count
        case .perCore: availableCores()
        }
    }

    /// Checks the count is in range.
    /// - Throws: `LWSError.invalidConfiguration` naming it.
    func validate() throws {
        if case .count(let count) = self, !(1...256).contains(count) {
            throw LWSError.invalidConfiguration("service threads \(count) is outside 1...256")
        }
    }
}
