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
                        let (logger, store) = CapturingLogHandler.logger(level: .debug)
                        LogBridge.registerCurrentThread(LogBridge.Sink(logger: logger))
                        defer { LogBridge.unregisterCurrentThread() }
                        for line in 0..<linesPerThread {
                            // Notice lines (debug): warnings and errors are rate-limited.
                            LogBridge.logThroughLibwebsockets(notice: Self.line(line, of: thread))
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

    /// A peer can make lws log an error per request (a head over the header space): at most
    /// `WarningRate.burst` such lines per window reach the logger, and the next line let
    /// through says how many were held back.
    @Test func warningAndErrorLinesAreRateLimitedPerThread() async throws {
        let store = try await offThePool {
            let (logger, store) = CapturingLogHandler.logger(level: .error)
            LogBridge.registerCurrentThread(LogBridge.Sink(logger: logger))
            defer { LogBridge.unregisterCurrentThread() }
            for line in 0..<1_000 { LogBridge.logThroughLibwebsockets(error: "Ran out of header data space \(line)") }
            return store
        }
        #expect(store.all.map(\.message) == (0..<WarningRate.burst).map { "Ran out of header data space \($0)" })
    }

    @Test func warningRateOpensAgainAfterItsWindowAndCountsWhatItHeldBack() {
        var rate = WarningRate()
        let start = ContinuousClock.now
        for _ in 0..<WarningRate.burst { #expect(rate.admit(at: start) == (true, 0)) }
        for _ in 0..<5 { #expect(rate.admit(at: start + .seconds(1)) == (false, 0)) }
        #expect(rate.admit(at: start + WarningRate.window) == (true, 5))
        #expect(rate.admit(at: start + WarningRate.window) == (true, 0))
    }
}
