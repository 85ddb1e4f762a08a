import LWSKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the server asks of a Redis broker's thread, in the order it asked.
enum BrokerRequest {
    case subscribe(String)
    case unsubscribe(String)
    /// An envelope to publish on a topic's channel.
    case publish(topic: String, envelope: [UInt8])
}

/// The queue between the server's threads and the broker's thread, and the pipe that wakes the
/// broker's `poll` when the queue gains its first request. Any thread.
final class BrokerInbox: Sendable {
    private struct State {
        var requests: [BrokerRequest] = []
        /// Envelope bytes queued in `requests`.
        var queuedBytes = 0
        var stopping = false
    }

    private let state = LockedValue(State())
    private let maxQueuedBytes: Int
    /// The read end, which `poll` watches, and the write end.
    let wakeDescriptor: Int32
    private let wakeWriteDescriptor: Int32

    /// - Parameter maxQueuedBytes: The most envelope bytes that may wait here; a publish past
    ///   it is refused (the broker's thread is stuck, connecting).
    /// - Throws: `LWSError.brokerUnavailable` if no pipe can be made.
    init(maxQueuedBytes: Int) throws {
        self.maxQueuedBytes = maxQueuedBytes
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else {
            throw LWSError.brokerUnavailable(reason: "cannot make the Redis broker's wake-up pipe: \(String(cString: strerror(errno)))")
        }
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        wakeDescriptor = ends[0]
        wakeWriteDescriptor = ends[1]
    }

    deinit {
        close(wakeDescriptor)
        close(wakeWriteDescriptor)
    }

    /// Queues `request`. Returns false, queuing nothing, for a publish past the bound or once
    /// stopping.
    @discardableResult
    func post(_ request: BrokerRequest) -> Bool {
        let wake = state.withLock { state -> Bool? in
            guard !state.stopping else { return nil }
            if case .publish(_, let envelope) = request {
                guard state.queuedBytes + envelope.count <= maxQueuedBytes else { return nil }
                state.queuedBytes += envelope.count
            }
            state.requests.append(request)
            return state.requests.count == 1
        }
        guard let wake else { return false }
        if wake { self.wake() }
        return true
    }

    /// Everything queued, in order, and whether the broker is stopping. Broker thread.
    func take() -> (requests: [BrokerRequest], stopping: Bool) {
        withUnsafeTemporaryAllocation(byteCount: 64, alignment: 1) { buffer in
            while read(wakeDescriptor, buffer.baseAddress, buffer.count) > 0 {}
        }
        return state.withLock { state in
            defer {
                state.requests.removeAll()
                state.queuedBytes = 0
            }
            return (state.requests, state.stopping)
        }
    }

    /// Refuses further requests and wakes the broker's thread to end.
    func stop() {
        state.withLock { $0.stopping = true }
        wake()
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWriteDescriptor, &byte, 1)
    }
}
