import Foundation
import Testing
@testable import LWSKit

/// The HTTP server (static mounts, dynamic routes, bodies, limits) with curl and LWSKit's
/// HTTP client as peers, over http and https (HTTP/1.1 and HTTP/2); the HTTP client against
/// Python's http.server too.
@Suite("HTTP server and client", .timeLimit(.minutes(2)))
struct HTTPTests {
    static let bodyLimit = 9 << 20

    /// A web root with an index, a stylesheet and a subdirectory, in a fresh temporary directory.
    private static func makeWebRoot() throws -> String {
        let root = NSTemporaryDirectory() + "lwskit-web-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/sub", withIntermediateDirectories: true)
        try "<html>index page</html>".write(toFile: root + "/index.html", atomically: true, encoding: .utf8)
        try "body { color: red }".write(toFile: root + "/style.css", atomically: true, encoding: .utf8)
        try "<html>sub index</html>".write(toFile: root + "/sub/index.html", atomically: true, encoding: .utf8)
        return root
    }

    /// A server with the web root at "/", `POST /echo` and `GET /inspect`; TLS with the test leaf if asked.
    private static func makeServer(tls: Bool, http2: Bool = false) throws -> WebSocketServer {
        let echo = HTTPRoute("POST", "/echo") { request in
            HTTPResponse(status: 200, headers: ["content-type": request.headers["content-type"] ?? "application/octet-stream"], body: request.body)
        }
        let inspect = HTTPRoute("GET", "/inspect") { request in
            HTTPResponse(text: "\(request.method) \(request.path) \(request.query ?? "-") \(request.headers["x-test"] ?? "-")")
        }
        let certificates = try TestCertificates.shared()
        let server = try WebSocketServer(
            configuration: .init(
                host: "127.0.0.1", port: 0, protocols: [EchoServer.daniel],
                tls: tls ? .init(certificateChain: .file(certificates.leaf.certificate), privateKey: .file(certificates.leaf.key), http2: http2) : nil,
                http: .init(mounts: [.files("/", directory: try makeWebRoot())], routes: [echo, inspect], maxRequestBodySize: bodyLimit,
                            customHeaderNames: ["x-test"])
            ),
            logger: testLogger("http-server")
        )
        try server.start()
        return server
    }

    private static func client() throws -> HTTPClient {
        try HTTPClient(configuration: .init(tls: .init(trustRoots: .file(try TestCertificates.shared().ca)), timeout: .seconds(20)),
                       logger: testLogger("http-client"))
    }

    /// Runs curl; returns its standard output (with `-w` text) and exit status.
    private static func curl(_ arguments: [String]) async throws -> (String, Int32) {
        let ca = try TestCertificates.shared().ca
        let process = try PeerProcess("/usr/bin/curl", ["-sS", "--max-time", "20", "--cacert", ca] + arguments)
        let status = try await process.waitForExit()
        return (process.standardOutput, status)
    }

    @Test(arguments: [false, true])
    func servesStaticFilesWithTypesIndexAnd404(tls: Bool) async throws {
        let server = try Self.makeServer(tls: tls)
        defer { server.syncShutdown() }
        let base = "\(tls ? "https" : "http")://localhost:\(server.port)"
        let client = try Self.client()
        defer { client.syncShutdown() }
        let index = try await client.get(base + "/")
        #expect(index.status == 200 && index.text == "<html>index page</html>")
        #expect(index.headers["content-type"]?.hasPrefix("text/html") == true)
        let css = try await client.get(base + "/style.css")
        #expect(css.status == 200 && css.headers["content-type"]?.hasPrefix("text/css") == true)
        #expect(try await client.get(base + "/sub/").text == "<html>sub index</html>")
        let missing = try await client.get(base + "/missing.html")
        #expect(missing.status == 404)
        #expect(try await client.get(base + "/inspect?a=1&b=2", headers: ["x-test": "yes"]).text == "GET /inspect a=1&b=2 yes")
        let wrongMethod = try await client.send("DELETE", to: base + "/echo")
        #expect(wrongMethod.status == 405 && wrongMethod.headers["allow"] == "POST")
    }

    @Test(arguments: [0, 1024, 8 << 20])
    func echoesPostBodiesByteForByte(size: Int) async throws {
        let server = try Self.makeServer(tls: false)
        defer { server.syncShutdown() }
        let client = try Self.client()
        defer { client.syncShutdown() }
        let body = pattern(size, seed: size)
        let response = try await client.post("http://127.0.0.1:\(server.port)/echo", body: body, headers: ["content-type": "application/x-test"])
        #expect(response.status == 200)
        #expect(response.body == body)
        #expect(response.headers["content-type"] == "application/x-test")
    }

    @Test func answers413AboveTheBodyLimitAndKeepsServing() async throws {
        let server = try Self.makeServer(tls: false)
        defer { server.syncShutdown() }
        let client = try Self.client()
        defer { client.syncShutdown() }
        let url = "http://127.0.0.1:\(server.port)/echo"
        // curl reads the early answer while it still has body to send.
        let payloadFile = NSTemporaryDirectory() + "lwskit-big-\(UUID().uuidString)"
        try Data(count: Self.bodyLimit + 1).write(to: URL(fileURLWithPath: payloadFile))
        let (output, _) = try await Self.curl(["--data-binary", "@" + payloadFile, "-w", " %{http_code}", url])
        #expect(output.hasSuffix(" 413") && output.contains("exceeds the limit of \(Self.bodyLimit)"), "\(output)")
        // LWSKit's client reads the answer only after its body is sent: when the server closed
        // first, the error says what probably happened.
        do {
            let response = try await client.post(url, body: [UInt8](repeating: 1, count: Self.bodyLimit + 1))
            #expect(response.status == 413)
        } catch LWSError.connectionFailed(_, let reason) {
            #expect(reason.contains("413"))
        }
        #expect(try await client.post(url, body: [1, 2, 3]).body == [1, 2, 3])
    }

    @Test func answersExpectContinueBeforeTheBodyArrives() async throws {
        let server = try Self.makeServer(tls: false)
        defer { server.syncShutdown() }
        let socket = try RawSocket(port: server.port)
        try socket.write(Array("POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n".utf8))
        #expect(try socket.read(until: "\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n")
        try socket.write(Array("hello".utf8))
        let answer = try socket.read(until: "hello")
        #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n") && answer.hasSuffix("\r\n\r\nhello"), "\(answer)")
    }

    /// curl's own choice (it offers h2 first) and HTTP/1.1 get HTTP/1.1 from a default server;
    /// HTTP/2 is negotiated only with a server that offers it (`TLSServerConfiguration.http2`).
    @Test(arguments: [("--http2", false, "1.1"), ("--http1.1", false, "1.1"), ("--http2", true, "2")])
    func curlOverHTTPSGetsPagesAndEchoes(version: String, serverOffersHTTP2: Bool, expectedVersion: String) async throws {
        let server = try Self.makeServer(tls: true, http2: serverOffersHTTP2)
        defer { server.syncShutdown() }
        let base = "https://localhost:\(server.port)"
        let (index, status) = try await Self.curl([version, "-w", " %{http_code} %{http_version}", base + "/"])
        #expect(status == 0 && index == "<html>index page</html> 200 \(expectedVersion)")
        let (missing, _) = try await Self.curl([version, "-o", "/dev/null", "-w", "%{http_code}", base + "/nothing-here"])
        #expect(missing == "404")
        let (echo, _) = try await Self.curl([version, "-H", "content-type: text/x-daniel", "--data-binary", "byte-for-byte é", "-w", " %{content_type}", base + "/echo"])
        #expect(echo == "byte-for-byte é text/x-daniel")
        // A 16 KiB binary body (lws 4.1.6 can stall larger HTTP/2 bodies: see the README).
        let payloadFile = NSTemporaryDirectory() + "lwskit-post-\(UUID().uuidString)"
        let payload = Data(pattern(16 << 10, seed: 3))
        try payload.write(to: URL(fileURLWithPath: payloadFile))
        let echoed = payloadFile + ".out"
        let (code, _) = try await Self.curl([version, "--data-binary", "@" + payloadFile, "-o", echoed, "-w", "%{http_code}", base + "/echo"])
        #expect(code == "200")
        #expect(try Data(contentsOf: URL(fileURLWithPath: echoed)) == payload)
    }

    @Test(arguments: ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/sub/../../../etc/passwd", "/..%2f..%2fetc/passwd"])
    func pathEscapesLeakNothing(path: String) async throws {
        let server = try Self.makeServer(tls: false)
        defer { server.syncShutdown() }
        let (output, status) = try await Self.curl(["--path-as-is", "-w", " %{http_code}", "http://127.0.0.1:\(server.port)\(path)"])
        #expect(status == 0)
        #expect(output.hasSuffix(" 404") || output.hasSuffix(" 403"), "\(output)")
        #expect(!output.contains("root:"))
    }

    @Test(arguments: [false, true])
    func clientTalksToPythonHTTPServer(tls: Bool) async throws {
        let certificates = try TestCertificates.shared()
        let python = try PeerProcess.python("http_server.py", tls ? ["--cert", certificates.leaf.certificate, "--key", certificates.leaf.key] : [])
        defer { python.send(signal: SIGTERM) }
        let port = try await python.waitForOutput(/listening on (\d+)/)
        let client = try Self.client()
        defer { client.syncShutdown() }
        let base = "\(tls ? "https" : "http")://localhost:\(port)"
        let page = try await client.get(base + "/")
        #expect(page.status == 200 && page.text == "hello from python" && page.headers["content-type"] == "text/plain")
        let body = pattern(100_000, seed: 9)
        let echo = try await client.post(base + "/", body: body, headers: ["content-type": "application/x-test"])
        #expect(echo.body == body && echo.headers["content-type"] == "application/x-test")
    }

    @Test func clientErrorsAreClear() async throws {
        let certificates = try TestCertificates.shared()
        let python = try PeerProcess.python("http_server.py", ["--cert", certificates.leaf.certificate, "--key", certificates.leaf.key])
        defer { python.send(signal: SIGTERM) }
        let port = try await python.waitForOutput(/listening on (\d+)/)
        // Unknown CA: a client trusting only the system's store.
        let untrusting = try HTTPClient(configuration: .init(timeout: .seconds(10)), logger: testLogger("http-client"))
        defer { untrusting.syncShutdown() }
        await #expect {
            _ = try await untrusting.get("https://localhost:\(port)/")
        } throws: { isConnectionFailure($0, saying: "certificate verify failed: unable to get local issuer certificate") }
        // Refused port.
        await #expect {
            _ = try await untrusting.get("http://127.0.0.1:1/")
        } throws: { isConnectionFailure($0, saying: "refused") }
        // A server that never answers.
        let impatient = try HTTPClient(configuration: .init(tls: .init(trustRoots: .file(certificates.ca)), timeout: .milliseconds(500)),
                                       logger: testLogger("http-client"))
        defer { impatient.syncShutdown() }
        await #expect(throws: LWSError.timedOut(url: "https://localhost:\(port)/slow", after: .milliseconds(500))) {
            _ = try await impatient.get("https://localhost:\(port)/slow")
        }
    }
}
