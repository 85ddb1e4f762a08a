import Dispatch
import LWSKit
import Synchronization

/// The state of the one connection, shared between the handler and the main thread.
final class Session: Sendable {
    private struct State {
        var received = 0
        var failure: String?
        var done = false
    }

    private let expected: [Message]
    private let echo: Bool
    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)

    init(expected: [Message], echo: Bool) {
        self.expected = expected
        self.echo = echo
    }

    /// Why the run failed, or nil if it succeeded.
    var failure: String? { state.withLock { $0.failure } }

    /// "2 of 3 replies", for a timeout message.
    var progress: String { state.withLock { "\($0.received) of \(expected.count) replies" } }

    /// Waits for the run to end; false on timeout.
    func wait(seconds: Double) -> Bool {
        guard seconds > 0 else {
            finished.wait()
            return true
        }
        return finished.wait(timeout: .now() + seconds) == .success
    }

    func handle(_ event: WebSocketEvent, on connection: WebSocketConnection, interval: Double) {
        switch event {
        case .established:
            writeLine("connected to \(connection.peer), subprotocol \(connection.subprotocol ?? "(none)")")
            if expected.isEmpty && !echo { try? connection.close() }
            for (index, message) in expected.enumerated() {
                if interval == 0 {
                    try? connection.send(message)
                } else {
                    DispatchQueue.global().asyncAfter(deadline: .now() + interval * Double(index)) {
                        try? connection.send(message)
                    }
                }
            }
        case .message(let reply):
            if echo {
                try? connection.send(reply)
                return
            }
            let (number, matches) = state.withLock { state -> (Int, Bool) in
                let number = state.received
                state.received += 1
                let matches = number < expected.count && expected[number] == reply
                if !matches, state.failure == nil {
                    state.failure = number < expected.count
                        ? "reply \(number + 1) differs from what was sent: got \(reply), sent \(expected[number])"
                        : "unexpected extra reply: \(reply)"
                }
                return (number + 1, matches)
            }
            writeLine("reply \(number): \(reply)\(matches ? "" : " (MISMATCH)")")
            if !matches {
                try? connection.close(code: .policyViolation, reason: "unexpected reply")
            } else if number == expected.count {
                try? connection.close(code: .normalClosure, reason: "done")
            }
        case .closed(let code, let reason):
            writeLine("closed \(code)\(reason.isEmpty ? "" : " \(reason)")")
            state.withLock { state in
                if !echo, state.failure == nil, state.received < expected.count {
                    state.failure = "the server closed the connection (\(code) \(reason)) after \(state.received) of \(expected.count) replies"
                }
                state.done = true
            }
            finished.signal()
        case .connectionError(let error):
            state.withLock { state in
                state.failure = "\(error)"
                state.done = true
            }
            finished.signal()
        case .writeable, .pong:
            break
        }
    }
}
