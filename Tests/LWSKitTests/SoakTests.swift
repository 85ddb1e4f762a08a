import Foundation
import Testing

/// One simple-server process under many short-lived peers: its memory, threads and file
/// descriptors must level off, and it must go on serving.
@Suite("Soak", .serialized, .timeLimit(.minutes(10)))
struct SoakTests {
    /// What is read from /proc of a process.
    struct Footprint: CustomStringConvertible {
        let residentBytes: Int
        let threads: Int
        let openDescriptors: Int

        init(of pid: Int32) throws {
            residentBytes = try LWSKitTests.residentBytes(of: pid)
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            threads = status.split(separator: "\n").first { $0.hasPrefix("Threads:") }
                .flatMap { Int($0.split(separator: "\t", omittingEmptySubsequences: true).last!.trimmingCharacters(in: .whitespaces)) } ?? -1
            openDescriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
        }

        var description: String { "RSS \(residentBytes >> 10) KiB, \(threads) threads, \(openDescriptors) fds" }
    }

    /// A connection that opens, echoes one message and closes with the closing handshake.
    private static func echoAndClose(port: Int) throws {
        let raw = try RawSocket(port: port)
        guard try raw.handshake().hasPrefix("HTTP/1.1 101") else { throw PeerError("no 101") }
        try raw.write(RawSocket.maskedFrame(opcode: 0x2, payload: [1, 2, 3, 4]) + RawSocket.maskedFrame(opcode: 0x8, payload: [0x03, 0xE8]))
        let frames = raw.readFramesUntilClose(until: .now + .seconds(5))
        guard frames.count == 2, frames[0].payload == [1, 2, 3, 4], frames[1].head & 0x0F == 0x8 else {
            throw PeerError("expected the echo and a close frame, got \(frames.map { ($0.head, $0.payload.count) })")
        }
        _ = raw.waitForEndOfStream(until: .now + .seconds(5))
    }

    /// A connection that opens, sends half a message and resets.
    private static func abort(port: Int) throws {
        let raw = try RawSocket(port: port)
        guard try raw.handshake().hasPrefix("HTTP/1.1 101") else { throw PeerError("no 101") }
        try raw.write(Array(RawSocket.maskedFrame(opcode: 0x2, payload: [UInt8](repeating: 5, count: 1000)).prefix(500)))
        raw.reset()
    }

    /// Samples the footprint every `interval` until `isSettled` accepts a sample or `limit` has
    /// passed; returns the last sample.
    private static func footprint(of pid: Int32, every interval: Duration, for limit: Duration,
                                  until isSettled: (Footprint) -> Bool) async throws -> Footprint {
        let deadline = ContinuousClock.now + limit
        var footprint = try Footprint(of: pid)
        while !isSettled(footprint), ContinuousClock.now < deadline {
            try await Task.sleep(for: interval)
            footprint = try Footprint(of: pid)
        }
        return footprint
    }

    /// The footprint once the server has finished with the connections that just ended: file
    /// descriptors of closing connections take a moment to go.
    private static func settledFootprint(of pid: Int32, descriptorsAtMost limit: Int) async throws -> Footprint {
        try await footprint(of: pid, every: .milliseconds(50), for: .seconds(10)) { $0.openDescriptors <= limit }
    }

    /// The footprint once the server has started everything it keeps: after one connection,
    /// and once threads and descriptors held still for three samples 100 ms apart (under
    /// ThreadSanitizer the server was still opening descriptors after it printed its port).
    private static func startedFootprint(of pid: Int32, port: Int) async throws -> Footprint {
        try await offThePool { try echoAndClose(port: port) }
        var previous: Footprint?
        var unchanged = 0
        return try await footprint(of: pid, every: .milliseconds(100), for: .seconds(5)) { current in
            let same = previous.map { $0.openDescriptors == current.openDescriptors && $0.threads == current.threads } ?? false
            unchanged = same ? unchanged + 1 : 0
            previous = current
            return unchanged >= 3
        }
    }

    @Test(arguments: ["echo and close", "abort"])
    func tenThousandCyclesLeaveSimpleServersMemoryThreadsAndDescriptorsFlat(kind: String) async throws {
        // ASan holds freed memory in a quarantine of up to 256 MiB, which would look like growth
        // here; this child keeps none, so its RSS shows what LWSKit keeps. Leaks are still caught.
        let server = try PeerProcess(try Peers.executable("simple-server"), ["--port", "0", "--host", "127.0.0.1", "--log-level", "error"],
                                     environment: ["ASAN_OPTIONS": "quarantine_size_mb=0"])
        defer { server.send(signal: SIGKILL) }
        let port = Int(try await server.waitForOutput(/listening on [^\n]*:(\d+)\n/))!
        let baseline = try await Self.startedFootprint(of: server.pid, port: port)
        let cycle: @Sendable (Int) throws -> Void = kind == "abort" ? Self.abort : Self.echoAndClose

        try await offThePool { for _ in 0..<1000 { try cycle(port) } }
        let afterFirstThousand = try await Self.settledFootprint(of: server.pid, descriptorsAtMost: baseline.openDescriptors)
        try await offThePool { for _ in 0..<9000 { try cycle(port) } }
        let afterTenThousand = try await Self.settledFootprint(of: server.pid, descriptorsAtMost: baseline.openDescriptors)

        let growth = Double(afterTenThousand.residentBytes) / Double(afterFirstThousand.residentBytes)
        #expect(growth <= 1.1, "\(kind): \(afterFirstThousand) after 1,000 cycles, \(afterTenThousand) after 10,000")
        #expect(afterTenThousand.threads == baseline.threads, "\(kind): threads \(baseline.threads) → \(afterTenThousand.threads)")
        #expect(afterTenThousand.openDescriptors == baseline.openDescriptors,
                "\(kind): descriptors \(baseline.openDescriptors) → \(afterTenThousand.openDescriptors)")
        try await offThePool { try Self.echoAndClose(port: port) }
        print("soak (\(kind)): start \(baseline); after 1,000 \(afterFirstThousand); after 10,000 \(afterTenThousand)")
    }
}
