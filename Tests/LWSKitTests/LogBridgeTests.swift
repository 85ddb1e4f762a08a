import Foundation
import Logging
import Testing
@testable import LWSKit

/// libwebsockets' log lines reach the logger of the loop thread that logged them, whole.
@Suite("lws log lines", .timeLimit(.minutes(2)))
struct LogBridgeTests {
    /// lws 4.1 formats lines into one static buffer; with two threads logging at once, its own
    /// formatter hands one thread the other's text (this test failed every run with it).
    @Test func linesLoggedOnSeveralThreadsAtOnceArriveWholeAndOnlyAtTheirOwnLogger() async throws {
        let threads = 3, linesPerThread = 4_000
        let stores = try await withThrowingTaskGroup(of: (Int, CapturingLogHandler.Store).self) { group in
            for thread in 0..<threads {
                group.addTask {
                    try await offThePool {
                        let (logger, store) = CapturingLogHandler.logger(level: .info)
                        LogBridge.registerCurrentThread(LogBridge.Sink(logger: logger))
                        defer { LogBridge.unregisterCurrentThread() }
                        for line in 0..<linesPerThread {
                            LogBridge.logThroughLibwebsockets(error: Self.line(line, of: thread))
                        }
                        return (thread, store)
                    }
                }
            }
            return try await group.reduce(into: [Int: CapturingLogHandler.Store]()) { $0[$1.0] = $1.1 }
        }
        for thread in 0..<threads {
            let received = stores[thread]!.all.map(\.message)
            let expected = (0..<linesPerThread).map { Self.line($0, of: thread) }
            let wrong = zip(received, expected).filter { $0 != $1 }
            #expect(received.count == linesPerThread)
            #expect(wrong.isEmpty, "thread \(thread): \(wrong.count) lines differ, first: \(wrong.first.map { "\($0.0) ≠ \($0.1)" } ?? "")")
        }
    }

    /// Line `number` of `thread`: 14 to 220 bytes, so lines of different lengths overlap.
    private static func line(_ number: Int, of thread: Int) -> String {
        "thread \(thread) line \(number)" + String(repeating: ".", count: number % 200)
    }

    /// Error lines are also kept per thread, for the reason of a failure lws reports only in its log.
    @Test func errorLinesAreKeptForTheThreadThatLoggedThem() async throws {
        let kept = try await offThePool {
            let (logger, _) = CapturingLogHandler.logger(level: .error)
            let sink = LogBridge.Sink(logger: logger)
            LogBridge.registerCurrentThread(sink)
            defer { LogBridge.unregisterCurrentThread() }
            LogBridge.logThroughLibwebsockets(error: "SSL error: certificate has expired")
            return sink.takeErrors()
        }
        #expect(kept == ["SSL error: certificate has expired"])
    }
}
