import Testing
@testable import LWSKit

/// Cross-site WebSocket hijacking: a handshake whose `Origin` is another site's is answered
/// 403 unless the server allows that origin; same-origin pages and clients that send no
/// `Origin` connect.
@Suite("Origin policy", .timeLimit(.minutes(2)))
struct OriginPolicyTests {
    @Test func theSameOriginIsJudgedByHostAndPortWithDefaultsFilledIn() {
        let policy = OriginPolicy.sameOrigin
        #expect(policy.refusal(origin: nil, host: "example.com") == nil, "no Origin: not a browser")
        #expect(policy.refusal(origin: "http://example.com:8080", host: "example.com:8080") == nil)
        #expect(policy.refusal(origin: "HTTP://Example.COM:8080", host: "example.com:8080") == nil, "case does not matter")
        #expect(policy.refusal(origin: "https://example.com", host: "example.com") == nil, "behind a TLS proxy")
        #expect(policy.refusal(origin: "https://example.com", host: "example.com:443") == nil)
        #expect(policy.refusal(origin: "http://[::1]:9000", host: "[::1]:9000") == nil)
        #expect(policy.refusal(origin: "http://example.com:8081", host: "example.com:8080") != nil, "another port")
        #expect(policy.refusal(origin: "http://evil.example", host: "example.com") != nil, "another host")
        #expect(policy.refusal(origin: "http://example.com.evil.example", host: "example.com") != nil)
        #expect(policy.refusal(origin: "null", host: "example.com") != nil, "an opaque origin (sandboxed page, file:)")
        #expect(policy.refusal(origin: "example.com", host: "example.com") != nil, "no scheme: not an origin")
        #expect(policy.refusal(origin: "http://example.com", host: nil) != nil, "no Host to compare with")
    }

    @Test func allowedOriginsAndTheWildcardWidenIt() throws {
        let policy = OriginPolicy(allowing: ["https://App.example.com", "http://localhost:3000"])
        #expect(policy.refusal(origin: "https://app.example.com:443", host: "api.example.com") == nil)
        #expect(policy.refusal(origin: "http://localhost:3000", host: "127.0.0.1:8080") == nil)
        #expect(policy.refusal(origin: "http://localhost:3001", host: "127.0.0.1:8080") != nil)
        let refusal = try #require(policy.refusal(origin: "http://evil.example", host: "api.example.com"))
        #expect(refusal.contains("http://evil.example") && refusal.contains("https://App.example.com"), "\(refusal)")
        #expect(OriginPolicy.anyOrigin.refusal(origin: "http://evil.example", host: "a") == nil)
        #expect(OriginPolicy(allowing: ["*"]) == .anyOrigin)
        try policy.validate()
        #expect(throws: LWSError.self) { try OriginPolicy(allowing: ["app.example.com"]).validate() }
        #expect(throws: LWSError.self) { try OriginPolicy(allowing: ["https://app.example.com/path"]).validate() }
    }

    /// An opening handshake with `origin` (none when nil) and `Host: 127.0.0.1:<port>`, and
    /// the server's answer.
    private func handshake(port: Int, origin: String?) async throws -> String {
        let request = RawSocket.upgradeRequest(port: port, target: "/", subprotocol: nil, extraHeaders: origin.map { "Origin: \($0)\r\n" } ?? "")
        return try await RawSocket.upgradeAnswer(port: port, request)
    }

    @Test func aForeignPageIsAnswered403AndTheServerOwnPagesAndOtherClientsConnect() async throws {
        let server = try EchoServer()
        defer { server.server.syncShutdown() }
        let port = server.port

        let foreign = try await handshake(port: port, origin: "http://evil.example")
        #expect(foreign.hasPrefix("HTTP/1.1 403 Forbidden\r\n"), "\(foreign)")
        #expect(foreign.contains("pages from origin http://evil.example may not open WebSockets here"), "\(foreign)")
        let opaque = try await handshake(port: port, origin: "null")
        #expect(opaque.hasPrefix("HTTP/1.1 403 "), "\(opaque)")
        for origin in ["http://127.0.0.1:\(port)", nil] {
            let answer = try await handshake(port: port, origin: origin)
            #expect(answer.hasPrefix("HTTP/1.1 101 "), "\(origin ?? "no Origin"): \(answer)")
        }
    }

    @Test func aServerAllowingAnOriginTakesItsPages() async throws {
        let server = try WebSocketServer(
            configuration: .init(host: "127.0.0.1", port: 0, protocols: [EchoServer.daniel],
                                 origins: OriginPolicy(allowing: ["http://app.example"])),
            logger: testLogger("origin-server"))
        try server.start()
        defer { server.syncShutdown() }
        #expect(try await handshake(port: server.port, origin: "http://app.example").hasPrefix("HTTP/1.1 101 "))
        #expect(try await handshake(port: server.port, origin: "http://evil.example").hasPrefix("HTTP/1.1 403 "))
        #expect(throws: LWSError.self) {
            try WebSocketServer(configuration: .init(port: 0, protocols: [EchoServer.daniel], origins: OriginPolicy(allowing: ["app.example"])))
        }
    }
}
