import Foundation
import Testing
@testable import LWSKit

/// simple-server's HTTP side under requests no polite client sends (issue 12): pipelining,
/// HTTP/2 and h2c, malformed heads, stalled and trickled bodies, log floods. After every attack
/// the server must answer a normal client at once, sit idle, and stop on SIGTERM.
@Suite("HTTP under attack", .timeLimit(.minutes(3)))
struct HTTPHardeningTests {
    // MARK: simple-server and the probe

    /// simple-server on a free port of 127.0.0.1, with the test leaf certificate when `tls`.
    private func startServer(
        tls: Bool, _ extra: [String] = [], environment: [String: String] = [:]
    ) async throws -> (server: PeerProcess, port: Int) {
        var arguments = ["--port", "0", "--host", "127.0.0.1"] + extra
        if tls {
            let leaf = try TestCertificates.shared().leaf
            arguments += ["--tls-cert", leaf.certificate, "--tls-key", leaf.key]
        }
        let server = try PeerProcess(try Peers.executable("simple-server"), arguments, environment: environment)
        return (server, Int(try await server.waitForOutput(/listening on [^\n]*:(\d+)/))!)
    }

    /// What `Tests/peers/http_probe.py` read back.
    private struct ProbeResult {
        var responses: [(status: Int, body: [UInt8])]
        var closed: Bool
        var statuses: [Int] { responses.map(\.status) }
    }

    /// Sends `bytes` in one write (over TLS when `tls`) and reads for up to `seconds`.
    private func probe(port: Int, tls: Bool, _ bytes: [UInt8], seconds: Double = 5) async throws -> ProbeResult {
        let payload = NSTemporaryDirectory() + "lwskit-probe-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: payload))
        defer { try? FileManager.default.removeItem(atPath: payload) }
        var arguments = [String(port), payload, "--seconds", String(seconds)]
        if tls { arguments += ["--ca", try TestCertificates.shared().ca] }
        let process = try PeerProcess.python("http_probe.py", arguments)
        #expect(try await process.waitForExit() == 0, "\(process.standardError)")
        let object = try JSONSerialization.jsonObject(with: Data(process.standardOutput.utf8)) as! [String: Any]
        let responses = (object["responses"] as! [[String: Any]]).map { response in
            (status: response["status"] as! Int, body: decodeHex(response["body"] as! String))
        }
        return ProbeResult(responses: responses, closed: object["closed"] as! Bool)
    }

    private func decodeHex(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }

    /// A new client is answered at once, the server uses (almost) no CPU for a second, and
    /// SIGTERM stops it with status 0.
    private func expectHealthyThenStop(_ server: PeerProcess, port: Int, tls: Bool) async throws {
        let echo = try await probe(port: port, tls: tls, Array("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello".utf8), seconds: 2)
        #expect(echo.responses.first.map { $0.status == 200 && $0.body == Array("hello".utf8) } == true, "\(echo.statuses)")
        let before = try cpuSeconds(of: server.pid)
        try await Task.sleep(for: .seconds(1))
        let busy = try cpuSeconds(of: server.pid) - before
        // A spinning service thread uses a whole second here; an idle one, nothing measurable.
        #expect(busy < 0.5, "simple-server used \(busy) s of CPU in 1 s while idle")
        server.send(signal: SIGTERM)
        #expect(try await server.waitForExit(timeout: .seconds(10)) == 0, "\(server.standardError.suffix(2000))")
    }

    // MARK: Pipelining

    private enum Pipelined: Character {
        case post = "p", emptyPost = "z", routeMiss = "n", largePost = "b"

        var request: [UInt8] {
            switch self {
            case .post: Array("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\na".utf8)
            case .emptyPost: Array("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n".utf8)
            case .routeMiss: Array("GET /no-such-page HTTP/1.1\r\nhost: x\r\n\r\n".utf8)
            case .largePost: Array("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n".utf8) + pattern(100, seed: 5)
            }
        }

        var hasBody: Bool { self == .post || self == .largePost }

        /// Whether `response` is the right answer to this request.
        func isAnswered(by response: (status: Int, body: [UInt8])) -> Bool {
            switch self {
            case .post: response.status == 200 && response.body == Array("a".utf8)
            case .emptyPost: response.status == 200 && response.body.isEmpty
            case .routeMiss: response.status == 404
            case .largePost: response.status == 200 && response.body == pattern(100, seed: 5)
            }
        }
    }

    /// Requests sent in one write are answered in order, each correctly, except that a request
    /// with a body behind another (which lws 4.1.6 would read from its own head) may be answered
    /// 503 instead, and then the connection closes. The first request is always answered.
    private func expectPipelineAnswered(_ shape: String, port: Int, tls: Bool) async throws {
        let requests = shape.map { Pipelined(rawValue: $0)! }
        let result = try await probe(port: port, tls: tls, requests.flatMap(\.request), seconds: 3)
        #expect(!result.responses.isEmpty, "\(shape): nothing answered")
        for (index, response) in result.responses.enumerated() {
            let request = requests[index]
            if request.isAnswered(by: response) { continue }
            let refusedPipelinedBody = response.status == 503 && index > 0 && request.hasBody
            #expect(refusedPipelinedBody, "\(shape): request \(index) (\(request)) answered \(response.status)")
            #expect(index == result.responses.count - 1 && result.closed, "\(shape): the connection went on after the 503")
            return
        }
        #expect(result.responses.count == requests.count, "\(shape): \(result.statuses)")
    }

    @Test(arguments: [false, true])
    func pipelinedRequestsOfEveryShapeNeverStopTheServer(tls: Bool) async throws {
        let (server, port) = try await startServer(tls: tls)
        defer { server.send(signal: SIGKILL) }
        let hundred = String((0..<100).map { Array("npzbnnzpbz")[($0 * 7) % 10] })
        for shape in ["pp", "pb", "bb", "np", "pn", "nn", "zz", "zp", "nnnnp", "pnnnn", "zzzz", hundred] {
            try await expectPipelineAnswered(shape, port: port, tls: tls)
        }
        // The must-show case on its own: both answered, the second with what is possible.
        let two = try await probe(port: port, tls: tls, Pipelined.post.request + Pipelined.post.request, seconds: 3)
        #expect(two.statuses.count == 2 && two.responses[0].body == Array("a".utf8), "\(two.statuses)")
        try await expectHealthyThenStop(server, port: port, tls: tls)
    }

    /// A pipelined request behind a large response the peer does not read yet: no busy loop
    /// while lws holds the output, and the whole response once the peer reads.
    @Test func aPipelinedRequestBehindAnUnreadLargeResponseDoesNotSpin() async throws {
        let (server, port) = try await startServer(tls: false)
        defer { server.send(signal: SIGKILL) }
        let body = pattern(8 << 20, seed: 11)
        let socket = try RawSocket(port: port)
        let before = try cpuSeconds(of: server.pid)
        try await offThePool {
            try socket.write(Array("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: \(body.count)\r\n\r\n".utf8) + body + Pipelined.post.request)
        }
        try await Task.sleep(for: .seconds(2))  // not reading: lws holds most of the response
        let busy = try cpuSeconds(of: server.pid) - before
        #expect(busy < 1.2, "simple-server used \(busy) s of CPU in 2 s while its peer did not read")
        let (received, _) = try await offThePool { socket.readToEnd(until: .now + .seconds(15)) }
        let head = Array("HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: \(body.count)\r\n\r\n".utf8)
        #expect(received.starts(with: head) && Array(received[head.count..<min(received.count, head.count + body.count)]) == body)
        socket.close()
        try await expectHealthyThenStop(server, port: port, tls: false)
    }

    // MARK: HTTP/2

    @Test func h2cUpgradeIsAnsweredAndNotSwitched() async throws {
        let (server, port) = try await startServer(tls: false)
        defer { server.send(signal: SIGKILL) }
        let upgrade = "GET / HTTP/1.1\r\nhost: x\r\nconnection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
        let result = try await probe(port: port, tls: false, Array(upgrade.utf8), seconds: 2)
        #expect(result.statuses == [400], "\(result.statuses)")
        let curl = try PeerProcess("/usr/bin/curl", ["-sS", "--max-time", "10", "--http2", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "http://127.0.0.1:\(port)/"])
        _ = try await curl.waitForExit()
        #expect(curl.standardOutput == "400 1.1")
        try await expectHealthyThenStop(server, port: port, tls: false)
    }

    /// curl without version flags offers h2; the default server answers over HTTP/1.1, whole.
    @Test func defaultTLSServerGivesCurlLargeFilesAndBodiesWhole() async throws {
        let root = NSTemporaryDirectory() + "lwskit-web-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let file = Data(pattern(264_000, seed: 21))
        try file.write(to: URL(fileURLWithPath: root + "/big.txt"))
        let (server, port) = try await startServer(tls: true, ["--web-root", root])
        defer { server.send(signal: SIGKILL) }
        let ca = try TestCertificates.shared().ca
        let output = root + "/out"
        let get = try PeerProcess("/usr/bin/curl", ["-sS", "--max-time", "30", "--cacert", ca, "-o", output, "-w", "%{http_code} %{http_version}", "https://localhost:\(port)/big.txt"])
        _ = try await get.waitForExit()
        #expect(get.standardOutput == "200 1.1", "\(get.standardOutput) \(get.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == file)
        for size in [300_000, 8 << 20] {
            let payload = Data(pattern(size, seed: size))
            try payload.write(to: URL(fileURLWithPath: root + "/body"))
            let post = try PeerProcess("/usr/bin/curl", ["-sS", "--max-time", "60", "--cacert", ca, "--data-binary", "@" + root + "/body", "-o", output, "-w", "%{http_code}", "https://localhost:\(port)/echo"])
            _ = try await post.waitForExit(timeout: .seconds(90))
            #expect(post.standardOutput == "200", "\(size): \(post.standardOutput) \(post.standardError)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == payload, "\(size) bytes echoed wrong")
        }
        try await expectHealthyThenStop(server, port: port, tls: true)
    }

    // MARK: Malformed heads and log volume

    @Test(arguments: [
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nhost: a\r\nhost: b\r\n\r\n",
        "GET / HTTP/1.1\r\nhost : a\r\n\r\n",
        "GET / HTTP/1.1\r\nhost: a\r\ncontent-length : 5\r\n\r\nhello",
        "POST /echo HTTP/1.1\r\nhost: a\r\ncontent-length: +5\r\n\r\nhello",
        "POST /echo HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\ncontent-length: 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nhost: a\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\nhost: b\r\n\r\n",
    ])
    func malformedHeadsAreAnswered400(head: String) async throws {
        let (server, port) = try await startServer(tls: false)
        defer { server.send(signal: SIGKILL) }
        let result = try await probe(port: port, tls: false, Array(head.utf8), seconds: 2)
        #expect(result.statuses == [400], "\(head.debugDescription): \(result.statuses)")
        try await expectHealthyThenStop(server, port: port, tls: false)
    }

    /// Heads lws cannot parse (a request line over the header space, an obsolete line folding)
    /// are never served; LWSKit has no place to answer them, lws closes the connection.
    @Test(arguments: ["GET /" + String(repeating: "a", count: 10 << 20) + " HTTP/1.1\r\nhost: a\r\n\r\n", "GET / HTTP/1.1\r\nhost: a\r\nx-a: b\r\n c\r\n\r\n"])
    func unparsableHeadsAreNotServed(head: String) async throws {
        let (server, port) = try await startServer(tls: false)
        defer { server.send(signal: SIGKILL) }
        let result = try await probe(port: port, tls: false, Array(head.utf8), seconds: 2)
        #expect(!result.statuses.contains { (200..<300).contains($0) }, "\(result.statuses)")
        try await expectHealthyThenStop(server, port: port, tls: false)
    }

    /// Each head over the header space makes lws log an error: a hundred of them leave at most
    /// `WarningRate.burst` lines in simple-server's log.
    @Test func aFloodOfOversizedHeadsWritesOnlyAFewLogLines() async throws {
        let (server, port) = try await startServer(tls: false)
        defer { server.send(signal: SIGKILL) }
        let oversized = Array(("GET / HTTP/1.1\r\nhost: a\r\nx-a: " + String(repeating: "a", count: 8_000) + "\r\n\r\n").utf8)
        try await offThePool {
            for _ in 0..<100 {
                let socket = try RawSocket(port: port)
                try? socket.write(oversized)
                _ = socket.readToEnd(until: .now + .seconds(2))
                socket.close()
            }
        }
        let lines = server.standardError.split(separator: "\n").filter { $0.contains("header data space") }
        #expect(lines.count >= 1 && lines.count <= WarningRate.burst, "\(lines.count) lines")
        try await expectHealthyThenStop(server, port: port, tls: false)
    }

    // MARK: Unfinished bodies

    /// Ten peers announce 16 MiB bodies, send 15 MiB and stall: the server holds at most
    /// `maxBufferedRequestBodyBytes` (32 MiB) of them, refuses the rest 503, and serves others.
    @Test func tenStalledUploadsAddLessThan64MiB() async throws {
        // ASan would keep the refused bodies' memory in its quarantine (up to 256 MiB).
        let (server, port) = try await startServer(tls: false, environment: ["ASAN_OPTIONS": "quarantine_size_mb=0"])
        defer { server.send(signal: SIGKILL) }
        try await Task.sleep(for: .milliseconds(200))
        let before = try residentBytes(of: server.pid)
        let chunk = pattern(1 << 20, seed: 3)
        let sockets = try await offThePool {
            try (0..<10).map { _ in
                let socket = try RawSocket(port: port)
                try socket.write(Array("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: \(16 << 20)\r\n\r\n".utf8))
                for _ in 0..<15 { do { try socket.write(chunk) } catch { break } }  // a refused one is closed
                return socket
            }
        }
        defer { sockets.forEach { $0.close() } }
        try await Task.sleep(for: .milliseconds(500))
        let grown = try residentBytes(of: server.pid) - before
        #expect(grown < 64 << 20, "RSS grew by \(grown >> 20) MiB")
        let refused = try await offThePool { sockets.filter { String(decoding: $0.read(until: .now + .milliseconds(300)) { _ in false }.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 503") }.count }
        #expect(refused >= 7, "\(refused) of 10 uploads refused")
        try await expectHealthyThenStop(server, port: port, tls: false)
    }

    /// A body trickled a byte at a time is answered 408 once `requestBodyTimeout` has passed;
    /// two started 0.5 s apart are each answered (the loop's one timer moves on to the next).
    @Test func trickledBodiesAreAnswered408() async throws {
        let echo = HTTPRoute("POST", "/echo") { HTTPResponse(status: 200, body: $0.body) }
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [], http: .init(routes: [echo], requestBodyTimeout: .seconds(1))),
            logger: testLogger("trickle")
        )
        try server.start()
        defer { server.syncShutdown() }
        let port = server.port
        let trickle = { @Sendable (delay: Duration) -> String in
            Thread.sleep(forTimeInterval: Double(delay.components.attoseconds) / 1e18)
            let socket = try RawSocket(port: port)
            defer { socket.close() }
            try socket.write(Array("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n".utf8))
            let deadline = ContinuousClock.now + .seconds(10)
            var received: [UInt8] = []
            while received.isEmpty && ContinuousClock.now < deadline {
                try? socket.write([UInt8(ascii: "x")])
                received = socket.read(until: .now + .milliseconds(200)) { !$0.isEmpty }.bytes
            }
            return String(decoding: received, as: UTF8.self)
        }
        async let first = offThePool { try trickle(.zero) }
        async let second = offThePool { try trickle(.milliseconds(500)) }
        for answer in try await [first, second] {
            #expect(answer.hasPrefix("HTTP/1.1 408 "), "\(answer)")
        }
        let client = try HTTPClient(configuration: .init(timeout: .seconds(10)), logger: testLogger("trickle-client"))
        defer { client.syncShutdown() }
        #expect(try await client.post("http://127.0.0.1:\(port)/echo", body: [1, 2, 3]).body == [1, 2, 3])
    }
}

/// The CPU time (user + system) process `pid` has used, in seconds, from /proc.
func cpuSeconds(of pid: Int32) throws -> Double {
    let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
    let ticks = Double(fields[11])! + Double(fields[12])!  // utime and stime: fields 14 and 15
    return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
}
