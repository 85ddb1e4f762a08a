import Foundation
import Testing
@testable import LWSKit

/// The queue between the loop thread and the task reading `connection.messages`.
@Suite("InboundQueue")
struct InboundQueueTests {
    /// A producer thread pushes numbered messages while a task takes them. Each time the reader
    /// finds the queue empty it suspends, and a push can land in between: the reader must still
    /// get every message once, in order, and see the end. (A queue that looked, then registered
    /// its waiter under a second lock handed a later message to the waiter first, and failed
    /// this test in 5 runs out of 5.)
    @Test func aReaderRacingThePusherGetsEveryMessageInOrder() async throws {
        let count = 200_000
        let queue = InboundQueue(resumeMark: 0)
        let producer = Thread {
            for index in 0..<count {
                _ = queue.push(.text(String(index)))
                if index % 4 == 0 { sched_yield() }
            }
            queue.finish(.closed)
        }
        producer.start()
        var expected = 0
        var outOfOrder: [String] = []
        while let message = try await queue.next(onDrained: {}) {
            if message != .text(String(expected)), outOfOrder.count < 5 { outOfOrder.append("\(message) where \(expected) was due") }
            expected += 1
        }
        #expect(outOfOrder.isEmpty, "\(outOfOrder)")
        #expect(expected == count)
    }

    /// Messages queued before the end are still delivered, then the sequence ends.
    @Test func queuedMessagesComeBeforeTheEnd() async throws {
        let queue = InboundQueue(resumeMark: 0)
        _ = queue.push(.text("a"))
        _ = queue.push(.binary([1]))
        queue.finish(.failed(.connectionClosed))
        #expect(try await queue.next(onDrained: {}) == .text("a"))
        #expect(try await queue.next(onDrained: {}) == .binary([1]))
        await #expect(throws: LWSError.self) { try await queue.next(onDrained: {}) }
    }

    /// Taking a message that brings a paused queue to its resume mark reports it, once.
    @Test func drainingAPausedQueueIsReportedOnce() async throws {
        let queue = InboundQueue(resumeMark: 3)
        _ = queue.push(.binary([UInt8](repeating: 0, count: 4)))
        #expect(queue.push(.binary([1, 2, 3])) == 7)
        queue.markPaused()
        var drained = 0
        _ = try await queue.next { drained += 1 }
        _ = try await queue.next { drained += 1 }
        #expect(drained == 1)
        #expect(queue.queuedBytes == 0)
    }
}
