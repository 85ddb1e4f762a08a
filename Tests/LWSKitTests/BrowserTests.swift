import Foundation
import Testing
@testable import LWSKit

/// simple-server's test page in headless Chromium (`Tests/peers/browser_page.py` drives it over
/// the DevTools protocol): the page's deep links connect with the "daniel" subprotocol, send,
/// and the test reads the page's `#log`.
@Suite("Browser test page", .serialized, .timeLimit(.minutes(2)))
struct BrowserTests {
    /// simple-server on a free port of 127.0.0.1 (with the test leaf certificate when `tls`);
    /// returns it and its port once it listens.
    private func startServer(tls: Bool, http2: Bool, extra: [String] = []) async throws -> (PeerProcess, String) {
        var arguments = ["--port", "0", "--host", "127.0.0.1", "--log-level", "debug"] + extra
        if tls {
            let leaf = try TestCertificates.shared().leaf
            arguments += ["--tls-cert", leaf.certificate, "--tls-key", leaf.key]
        }
        if http2 { arguments.append("--http2") }
        let server = try PeerProcess(try Peers.executable("simple-server"), arguments)
        let port = try await server.waitForOutput(/listening on [^\n]*:(\d+)/)
        return (server, port)
    }

    /// Starts simple-server, opens its page in Chromium with the deep link
    /// `?url=ws(s)://…&protocol=daniel&` + `query` and waits until `#log` holds every line of
    /// `expected`. Returns the browser and the server (sent SIGTERM; what it logged is kept).
    private func openPage(
        tls: Bool, http2: Bool = false, query: String, expecting expected: [String]
    ) async throws -> (browser: PeerProcess, server: PeerProcess) {
        let (server, port) = try await startServer(tls: tls, http2: http2)
        defer { server.send(signal: SIGTERM) }
        let page = "\(tls ? "https" : "http")://127.0.0.1:\(port)/?url=\(tls ? "wss" : "ws")://127.0.0.1:\(port)&protocol=daniel&\(query)"
        let browser = try PeerProcess.python("browser_page.py", [page, "--timeout", "45"] + expected.flatMap { ["--expect", $0] })
        let status = try await browser.waitForExit(timeout: .seconds(60))
        #expect(status == 0, "\(browser.standardOutput)\n\(browser.standardError)")
        return (browser, server)
    }

    /// Cross-site WebSocket hijacking: the page from server A connects to server B, which
    /// refuses it (403: the browser reports a failed connection) unless B allows A's origin.
    @Test(arguments: [false, true])
    func aPageFromAnotherServerIsRefusedUnlessAllowed(allowed: Bool) async throws {
        let (pageServer, pagePort) = try await startServer(tls: false, http2: false)
        defer { pageServer.send(signal: SIGTERM) }
        let origin = "http://127.0.0.1:\(pagePort)"
        let (target, targetPort) = try await startServer(tls: false, http2: false, extra: allowed ? ["--allow-origin", origin] : [])
        defer { target.send(signal: SIGTERM) }
        let page = "\(origin)/?url=ws://127.0.0.1:\(targetPort)&protocol=daniel&send=hi"
        let expected = allowed ? ["OPEN: subprotocol daniel", "RECEIVED: hi"] : ["ERROR: the connection failed", "CLOSED: 1006"]
        let browser = try PeerProcess.python("browser_page.py", [page, "--timeout", "45"] + expected.flatMap { ["--expect", $0] })
        #expect(try await browser.waitForExit(timeout: .seconds(60)) == 0, "\(browser.standardOutput)\n\(browser.standardError)")
        if !allowed {
            #expect(!browser.standardOutput.contains("OPEN:"), "\(browser.standardOutput)")
            #expect(target.standardError.contains("HTTP request refused: 403 pages from origin \(origin)"), "\(target.standardError)")
        }
    }

    @Test func deepLinkOverHTTPSendsHiAndShowsTheEcho() async throws {
        let (browser, server) = try await openPage(tls: false, query: "send=hi", expecting: ["OPEN: subprotocol daniel", "SENT: hi", "RECEIVED: hi"])
        #expect(browser.standardOutput.contains("user-agent Mozilla/5.0"), "\(browser.standardOutput)")
        #expect(browser.standardOutput.contains("Chrome/"), "\(browser.standardOutput)")
        #expect(server.standardError.contains("received text \"hi\""), "\(server.standardError)")
    }

    @Test func pageSendsOneMebibyteOfRandomBytesAndGetsThemBack() async throws {
        let (_, server) = try await openPage(
            tls: false, query: "binary=1048576",
            expecting: ["SENT: binary 1048576 bytes", "RECEIVED: binary 1048576 bytes, matches what was sent"]
        )
        #expect(server.standardError.contains("received binary (1048576 bytes)"), "\(server.standardError)")
    }

    /// Over https Chromium offers h2; a default server answers HTTP/1.1, and the WebSocket is
    /// a connection of its own.
    @Test func overHTTPSTheDefaultServerSpeaksHTTP1AndEchoesTextAndOneMebibyte() async throws {
        let (browser, server) = try await openPage(
            tls: true, query: "send=hi&binary=1048576",
            expecting: ["OPEN: subprotocol daniel", "RECEIVED: hi", "RECEIVED: binary 1048576 bytes, matches what was sent"]
        )
        #expect(browser.standardOutput.contains("page-protocol http/1.1"), "\(browser.standardOutput)")
        #expect(server.standardError.contains("http2Stream=false"), "\(server.standardError)")
    }

    /// With --http2 Chromium loads the page with HTTP/2 and opens the WebSocket as a stream of
    /// that connection (RFC 8441): frames within HTTP/2's 16 KiB frames and the send window.
    @Test func overHTTPSWithHTTP2TheWebSocketIsAnHTTP2StreamAndEchoesTextAndOneMebibyte() async throws {
        let (browser, server) = try await openPage(
            tls: true, http2: true, query: "send=hi&binary=1048576",
            expecting: ["OPEN: subprotocol daniel", "RECEIVED: hi", "RECEIVED: binary 1048576 bytes, matches what was sent"]
        )
        #expect(browser.standardOutput.contains("page-protocol h2"), "\(browser.standardOutput)")
        #expect(server.standardError.contains("http2Stream=true"), "\(server.standardError)")
    }

    /// simple-server --mirror --threads 4: the page joins room x over HTTP/2 with TLS (where
    /// each subscriber frames its own copy; the shared frames of HTTP/1.1 are what the Python
    /// room tests see), a Swift client in the same room receives what the page sends, and the
    /// page shows what the client says back. The page's connection and the client's are on
    /// different service threads (each new peer goes to a loop with none).
    @Test func thePageJoinsARoomAndShowsMessagesFromOthers() async throws {
        let (server, port) = try await startServer(tls: true, http2: true, extra: ["--mirror", "--threads", "4"])
        defer { server.send(signal: SIGTERM) }
        let client = try WebSocketClient(
            configuration: .init(tls: .init(trustRoots: .file(try TestCertificates.shared().ca))), logger: testLogger("room"))
        defer { client.syncShutdown() }
        let member = try await client.connect(to: "wss://localhost:\(port)/rooms/x", subprotocol: "daniel")
        let other = try await client.connect(to: "wss://localhost:\(port)/rooms/y", subprotocol: "daniel")
        let answering = Task {
            for try await message in member.messages where message == .text("hi room") {
                try member.send(.text("welcome, page"))
                return
            }
        }
        defer { answering.cancel() }
        let page = "https://localhost:\(port)/?url=wss://localhost:\(port)&protocol=daniel&room=x&send=hi%20room"
        let browser = try PeerProcess.python("browser_page.py", [
            page, "--timeout", "45", "--expect", "CONNECTING: wss://localhost:\(port)/rooms/x", "--expect", "RECEIVED: hi room",
            "--expect", "RECEIVED: welcome, page",
        ])
        #expect(try await browser.waitForExit(timeout: .seconds(60)) == 0, "\(browser.standardOutput)\n\(browser.standardError)")
        #expect(browser.standardOutput.contains("page-protocol h2"), "\(browser.standardOutput)")
        try other.send(.text("only room y"))
        var others = other.messages.makeAsyncIterator()
        #expect(try await others.next() == .text("only room y"), "room y hears itself, not room x")
    }
}
