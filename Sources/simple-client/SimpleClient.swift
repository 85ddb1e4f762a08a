import ArgumentParser
import Dispatch
import Logging
import LWSKit
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The "daniel" example client: sends numbered messages, checks every echo, closes with 1000.
@main
struct SimpleClient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simple-client",
        abstract: "Sends messages to a \"daniel\" echo server and checks every reply.",
        discussion: "Exits 0 only when every reply matched what was sent (in --echo mode: when the server closed)."
    )

    @Argument(help: "The server's ws:// URL.")
    var url = "ws://127.0.0.1:28709"

    @Option(help: "How many messages to send.")
    var count = 3

    @Option(help: "Seconds to wait between messages (0: send them all at once).")
    var interval = 0.0

    @Option(help: "Text of each message; a sequence number is appended (\"hello 1\").")
    var message = "hello"

    @Option(help: "Send binary messages of this many bytes instead of text.")
    var binarySize: Int?

    @Flag(help: "Mirror mode: send nothing, echo every message the server sends until it closes.")
    var echo = false

    @Option(name: .customLong("protocol"), help: "The subprotocol to ask for.")
    var subprotocol = "daniel"

    @Option(help: "Give up after this many seconds (0: never).")
    var timeout = 30.0

    func validate() throws {
        guard count >= 0 else { throw ValidationError("--count must be at least 0") }
        guard interval >= 0, timeout >= 0 else { throw ValidationError("--interval and --timeout must not be negative") }
        if let binarySize, binarySize < 0 { throw ValidationError("--binary-size must not be negative") }
    }

    func run() throws {
        let plan = echo ? [] : (1...max(count, 1)).prefix(count).map(outgoing(number:))
        let session = Session(expected: plan, echo: echo)
        let client: WebSocketClient
        do {
            var logger = Logger(label: "simple-client")
            logger.logLevel = .warning
            client = try WebSocketClient(logger: logger)
            try client.connect(to: url, subprotocol: subprotocol) { connection, event in
                session.handle(event, on: connection, interval: interval)
            }
        } catch {
            writeLine("simple-client: \(error)", to: 2)
            throw ExitCode.failure
        }
        let finishedInTime = session.wait(seconds: timeout)
        client.syncShutdown(grace: .seconds(1))
        guard finishedInTime else {
            writeLine("simple-client: no result after \(timeout) seconds (\(session.progress))", to: 2)
            throw ExitCode.failure
        }
        if let failure = session.failure {
            writeLine("simple-client: \(failure)", to: 2)
            throw ExitCode.failure
        }
    }

    /// The message numbered `number` (from 1).
    func outgoing(number: Int) -> Message {
        guard let binarySize else { return .text("\(message) \(number)") }
        return .binary((0..<binarySize).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ number) })
    }
}

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

/// Writes one line straight to a file descriptor (1: standard output, 2: standard error),
/// unbuffered, so a process reading the pipe sees it at once.
func writeLine(_ line: String, to descriptor: Int32 = 1) {
    var text = line + "\n"
    text.withUTF8 { bytes in _ = write(descriptor, bytes.baseAddress, bytes.count) }
}
