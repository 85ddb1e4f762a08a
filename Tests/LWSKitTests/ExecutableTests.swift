import Foundation
import Testing

/// simple-server and simple-client as processes: against each other and against Python peers.
@Suite("Example executables", .serialized, .timeLimit(.minutes(2)))
struct ExecutableTests {
    /// Starts simple-server on a free port and returns it with its port.
    private func startSimpleServer(_ arguments: [String] = ["--port", "0"]) async throws -> (PeerProcess, String) {
        let server = try PeerProcess(try Peers.executable("simple-server"), arguments + ["--host", "127.0.0.1"])
        let port = try await server.waitForOutput(/listening on [^\n]*:(\d+)\n/)
        return (server, port)
    }

    @Test func simpleServerRefusesAWebRootItCannotRead() async throws {
        let server = try PeerProcess(try Peers.executable("simple-server"), ["--port", "0", "--web-root", "/nonexistent/www"])
        #expect(try await server.waitForExit(timeout: .seconds(20)) != 0)
        #expect(server.standardError.contains("cannot read the directory '/nonexistent/www'"), "\(server.standardError)")
        #expect(!server.standardOutput.contains("listening"))
    }

    @Test func simpleClientGetsEveryEchoFromSimpleServer() async throws {
        let (server, port) = try await startSimpleServer()
        let client = try PeerProcess(try Peers.executable("simple-client"), ["ws://127.0.0.1:\(port)", "--count", "5"])
        #expect(try await client.waitForExit() == 0, "\(client.standardError)")
        for number in 1...5 {
            #expect(client.standardOutput.contains("reply \(number): text \"hello \(number)\""))
        }
        #expect(client.standardOutput.contains("subprotocol daniel"))
        #expect(client.standardOutput.contains("closed 1000"))
        server.send(signal: SIGINT)
        #expect(try await server.waitForExit() == 0)
        #expect(server.standardError.contains("received text \"hello 5\""))
    }

    @Test func simpleClientSendsOneMebibyteBinaryMessages() async throws {
        let (server, port) = try await startSimpleServer()
        defer { server.send(signal: SIGTERM) }
        let client = try PeerProcess(try Peers.executable("simple-client"),
                                     ["ws://127.0.0.1:\(port)", "--count", "3", "--binary-size", "1048576"])
        #expect(try await client.waitForExit() == 0, "\(client.standardError)")
        #expect(client.standardOutput.contains("reply 3: binary (1048576 bytes)"))
    }

    @Test func pythonClientEchoesThroughSimpleServer() async throws {
        let (server, port) = try await startSimpleServer()
        defer { server.send(signal: SIGTERM) }
        let python = try PeerProcess.python("ws_client.py", ["ws://127.0.0.1:\(port)/", "--protocol", "daniel"])
        #expect(try await python.waitForExit() == 0, "\(python.standardOutput) \(python.standardError)")
        #expect(python.standardOutput.contains("subprotocol daniel"))
        #expect(python.standardOutput.contains("1 MiB binary: ok"))
    }

    /// The default origin policy against a Python client posing as a browser page: another
    /// site's page is refused with 403 and the server's own echoes; `--allow-origin` admits a
    /// named site.
    @Test func simpleServerRefusesForeignPagesUnlessAllowed() async throws {
        let (server, port) = try await startSimpleServer()
        defer { server.send(signal: SIGTERM) }
        let url = "ws://127.0.0.1:\(port)/"
        let foreign = try PeerProcess.python("ws_client.py", [url, "--origin", "http://evil.example"])
        #expect(try await foreign.waitForExit() == 3, "\(foreign.standardOutput) \(foreign.standardError)")
        #expect(foreign.standardOutput.contains("refused: HTTP 403 pages from origin http://evil.example may not open WebSockets here"),
                "\(foreign.standardOutput)")
        let own = try PeerProcess.python("ws_client.py", [url, "--origin", "http://127.0.0.1:\(port)"])
        #expect(try await own.waitForExit() == 0, "\(own.standardOutput) \(own.standardError)")

        let (widened, widenedPort) = try await startSimpleServer(["--port", "0", "--allow-origin", "http://evil.example"])
        defer { widened.send(signal: SIGTERM) }
        let allowed = try PeerProcess.python("ws_client.py", ["ws://127.0.0.1:\(widenedPort)/", "--origin", "http://evil.example"])
        #expect(try await allowed.waitForExit() == 0, "\(allowed.standardOutput) \(allowed.standardError)")
        #expect(allowed.standardOutput.hasSuffix("OK\n"))
    }

    /// `--token`: a handshake without the token gets 401 (Python raises with the status, curl
    /// prints the status line and body); the bearer header or the query parameter gets in.
    @Test func simpleServerWithATokenRefusesHandshakesWithoutIt() async throws {
        let (server, port) = try await startSimpleServer(["--port", "0", "--token", "T0k"])
        defer { server.send(signal: SIGTERM) }
        let url = "ws://127.0.0.1:\(port)/"
        let anonymous = try PeerProcess.python("ws_client.py", [url])
        #expect(try await anonymous.waitForExit() == 3, "\(anonymous.standardOutput) \(anonymous.standardError)")
        #expect(anonymous.standardOutput.contains("refused: HTTP 401 a WebSocket here needs"), "\(anonymous.standardOutput)")
        let wrong = try PeerProcess.python("ws_client.py", [url, "--header", "Authorization: Bearer nope"])
        #expect(try await wrong.waitForExit() == 3, "\(wrong.standardOutput) \(wrong.standardError)")
        for arguments in [[url, "--header", "Authorization: Bearer T0k"], [url + "?token=T0k"]] {
            let admitted = try PeerProcess.python("ws_client.py", arguments)
            #expect(try await admitted.waitForExit() == 0, "\(arguments): \(admitted.standardOutput) \(admitted.standardError)")
        }
        let curl = try PeerProcess("/usr/bin/curl", [
            "-s", "-i", "--max-time", "5", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
            "-H", "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "http://127.0.0.1:\(port)/",
        ])
        _ = try await curl.waitForExit()
        #expect(curl.standardOutput.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"), "\(curl.standardOutput)")
        #expect(curl.standardOutput.contains("www-authenticate: Bearer"), "\(curl.standardOutput)")
        let page = try PeerProcess("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"])
        _ = try await page.waitForExit()
        #expect(page.standardOutput == "200", "HTTP pages stay open: \(page.standardOutput)")
        #expect(server.standardError.contains("path=/"), "the connection's log line shows its path")

        let withHeader = try PeerProcess(try Peers.executable("simple-client"), [url, "--count", "2", "--header", "Authorization: Bearer T0k"])
        #expect(try await withHeader.waitForExit() == 0, "\(withHeader.standardError)")
        let without = try PeerProcess(try Peers.executable("simple-client"), [url, "--count", "2"])
        #expect(try await without.waitForExit() != 0)
        #expect(without.standardError.contains("refused by the server: 401 Unauthorized"), "\(without.standardError)")
    }

    @Test func simpleClientAgainstAPythonEchoServer() async throws {
        let python = try PeerProcess.python("ws_echo_server.py", [])
        let port = try await python.waitForOutput(/listening on (\d+)/)
        let client = try PeerProcess(try Peers.executable("simple-client"), ["ws://127.0.0.1:\(port)", "--count", "4"])
        #expect(try await client.waitForExit() == 0, "\(client.standardError)")
        #expect(client.standardOutput.contains("reply 4: text \"hello 4\""))
        #expect(client.standardOutput.contains("subprotocol daniel"))
    }

    @Test func simpleClientEchoModeMirrorsWhatTheServerSends() async throws {
        let python = try PeerProcess.python("ws_driver_server.py", ["--count", "3"])
        let port = try await python.waitForOutput(/listening on (\d+)/)
        let client = try PeerProcess(try Peers.executable("simple-client"), ["ws://127.0.0.1:\(port)", "--echo"])
        #expect(try await client.waitForExit() == 0, "\(client.standardError)")
        #expect(try await python.waitForExit() == 0, "\(python.standardOutput) \(python.standardError)")
        #expect(python.standardOutput.contains("OK"))
    }

    @Test func simpleClientFailsWithinFiveSecondsOnAClosedPort() async throws {
        let closed = try ClosedPort()
        defer { withExtendedLifetime(closed) {} }
        let port = closed.port
        let started = ContinuousClock.now
        let client = try PeerProcess(try Peers.executable("simple-client"), ["ws://127.0.0.1:\(port)"])
        let status = try await client.waitForExit(timeout: .seconds(5))
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(status != 0)
        let lines = client.standardError.split(separator: "\n")
        #expect(lines.count == 1, "expected one line on stderr: \(client.standardError)")
        #expect(client.standardError.contains("cannot connect to ws://127.0.0.1:\(port)/"))
        #expect(client.standardError.contains("refused or unreachable"))
    }

    @Test func simpleClientExitsNonZeroWhenAReplyDiffers() async throws {
        // A server that answers every message with "wrong".
        let python = try PeerProcess.python("ws_echo_server.py", ["--reply", "wrong"])
        let port = try await python.waitForOutput(/listening on (\d+)/)
        let client = try PeerProcess(try Peers.executable("simple-client"), ["ws://127.0.0.1:\(port)", "--count", "2"])
        #expect(try await client.waitForExit() != 0)
        #expect(client.standardError.contains("reply 1 differs"))
    }

    @Test func simpleServerListensOn28709ByDefault() async throws {
        let server = try PeerProcess(try Peers.executable("simple-server"), ["--host", "127.0.0.1"])
        let port = try await server.waitForOutput(/listening on [^\n]*:(\d+)\n/)
        #expect(port == "28709")
        let client = try PeerProcess(try Peers.executable("simple-client"), ["--count", "1"])
        #expect(try await client.waitForExit() == 0, "\(client.standardError)")
        server.send(signal: SIGTERM)
        #expect(try await server.waitForExit() == 0)
    }

    @Test func simpleServerExitsNonZeroWhenThePortIsTaken() async throws {
        let (first, port) = try await startSimpleServer()
        defer { first.send(signal: SIGTERM) }
        let second = try PeerProcess(try Peers.executable("simple-server"), ["--port", port, "--host", "127.0.0.1"])
        #expect(try await second.waitForExit(timeout: .seconds(10)) != 0)
        #expect(second.standardError.contains("simple-server: cannot listen on 127.0.0.1:\(port): address already in use"))
    }

    @Test func simpleServerStaysUnder64MiBWhileAPeerOffers256MiBWithoutReading() async throws {
        let (server, port) = try await startSimpleServer(["--port", "0", "--log-level", "warning"])
        defer { server.send(signal: SIGKILL) }
        let greedy = try RawSocket(port: Int(port)!)
        #expect(try greedy.handshake().hasPrefix("HTTP/1.1 101"))
        let frame = RawSocket.maskedFrame(payload: pattern(1 << 20, seed: 9))
        let accepted = try await offThePool { greedy.offer(frame, total: 256 << 20, until: .now + .seconds(4)) }
        let rss = try residentBytes(of: server.pid)
        #expect(rss < 64 << 20, "simple-server RSS is \(rss >> 20) MiB after \(accepted >> 20) MiB were offered")
        #expect(accepted < 256 << 20, "the server should have stopped reading")

        let client = try PeerProcess(try Peers.executable("simple-client"), ["ws://127.0.0.1:\(port)", "--count", "3"])
        #expect(try await client.waitForExit() == 0, "a second client was not served: \(client.standardError)")
    }

    @Test func simpleServerDropsASilentPeerWithin6SecondsAndKeepsAnActiveClient() async throws {
        let (server, port) = try await startSimpleServer(["--port", "0", "--ping-interval", "1", "--idle-timeout", "3"])
        defer { server.send(signal: SIGTERM) }
        let active = try PeerProcess(try Peers.executable("simple-client"),
                                     ["ws://127.0.0.1:\(port)", "--count", "6", "--interval", "1"])
        let silent = try RawSocket(port: Int(port)!)
        #expect(try silent.handshake().hasPrefix("HTTP/1.1 101"))
        let connected = ContinuousClock.now
        #expect(try await offThePool { silent.waitForEndOfStream(until: connected + .seconds(8)) }, "the silent peer was not dropped")
        #expect(ContinuousClock.now - connected < .seconds(6))
        #expect(try await active.waitForExit() == 0, "the active client was dropped: \(active.standardOutput) \(active.standardError)")
    }

    @Test func simpleServerShutsDownCleanlyOnSIGTERMWithAClientConnected() async throws {
        let (server, port) = try await startSimpleServer()
        let client = try PeerProcess(try Peers.executable("simple-client"),
                                     ["ws://127.0.0.1:\(port)", "--count", "1000", "--interval", "0.01"])
        _ = try await client.waitForOutput(/(reply 1):/)
        server.send(signal: SIGTERM)
        #expect(try await server.waitForExit(timeout: .seconds(10)) == 0)
        #expect(try await client.waitForExit(timeout: .seconds(10)) != 0)
        #expect(client.standardOutput.contains("closed 1001"))
    }
}

/// The resident set size of process `pid`, from /proc.
func residentBytes(of pid: Int32) throws -> Int {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else {
        throw PeerError("no VmRSS for process \(pid)")
    }
    return kilobytes * 1024
}
