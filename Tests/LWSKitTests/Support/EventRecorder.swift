@testable import LWSKit

/// Records the events of one or more connections so a test can wait for them.
final class EventRecorder: Sendable {
    struct Timeout: Error, CustomStringConvertible {
        let what: String
        let events: [WebSocketEvent]
        var description: String { "timed out waiting for \(what); events so far: \(events.map(\.summary))" }
    }

    private let events = LockedValue<[WebSocketEvent]>([])

    /// A handler that records every event it receives.
    var handler: WebSocketHandler {
        { [self] _, event in events.withLock { $0.append(event) } }
    }

    /// Every event so far.
    var snapshot: [WebSocketEvent] { events.withLock { $0 } }

    /// The messages received so far, in order.
    var messages: [Message] {
        snapshot.compactMap { if case .message(let message) = $0 { message } else { nil } }
    }

    /// Waits until `condition` holds for the recorded events.
    func wait(
        for what: String, timeout: Duration = .seconds(30), until condition: ([WebSocketEvent]) -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition(snapshot) {
            guard ContinuousClock.now < deadline else { throw Timeout(what: what, events: snapshot) }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Waits for `.established`.
    func waitEstablished() async throws {
        try await wait(for: "established") { $0.contains(.established) }
    }

    /// Waits until `count` messages have arrived and returns them.
    func waitForMessages(_ count: Int, timeout: Duration = .seconds(60)) async throws -> [Message] {
        try await wait(for: "\(count) messages", timeout: timeout) { events in
            events.lazy.filter { if case .message = $0 { true } else { false } }.count >= count
        }
        return messages
    }

    /// Waits for the terminal event (`.closed` or `.connectionError`) and returns it.
    func waitForEnd(timeout: Duration = .seconds(30)) async throws -> WebSocketEvent {
        try await wait(for: "closed or connectionError", timeout: timeout) { $0.contains(where: \.isTerminal) }
        return snapshot.first(where: \.isTerminal)!
    }

    /// Waits for the terminal event and returns its error; throws if the connection ended any
    /// other way.
    func waitForConnectionError(timeout: Duration = .seconds(30)) async throws -> LWSError {
        let end = try await waitForEnd(timeout: timeout)
        guard case .connectionError(let error) = end else {
            throw PeerError("expected connectionError, got \(snapshot.map(\.summary))")
        }
        return error
    }
}

extension WebSocketEvent {
    var isTerminal: Bool {
        switch self {
        case .closed, .connectionError: true
        default: false
        }
    }

    /// A short form for failure messages (no megabyte payloads).
    var summary: String {
        switch self {
        case .message(let message): "message(\(message))"
        default: "\(self)"
        }
    }
}
