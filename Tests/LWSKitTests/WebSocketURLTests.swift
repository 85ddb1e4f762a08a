import Testing
@testable import LWSKit

@Suite("WebSocketURL parsing")
struct WebSocketURLTests {
    @Test func parsesHostPortAndPath() throws {
        let url = try WebSocketURL("ws://127.0.0.1:28709/chat?room=1#ignored")
        #expect(url.host == "127.0.0.1")
        #expect(url.port == 28709)
        #expect(url.path == "/chat?room=1")
        #expect(url.hostHeader == "127.0.0.1:28709")
    }

    @Test func defaultsPortToEightyAndPathToSlash() throws {
        let url = try WebSocketURL("WS://example.com")
        #expect(url.port == 80)
        #expect(url.path == "/")
        #expect(url.hostHeader == "example.com")
        #expect(try WebSocketURL("ws://example.com?x=1").path == "/?x=1")
    }

    @Test func wssDefaultsToPort443() throws {
        let url = try WebSocketURL("wss://localhost/")
        #expect(url.scheme == .wss && url.isSecure)
        #expect(url.port == 443)
        #expect(url.hostHeader == "localhost")
        #expect(try WebSocketURL("wss://localhost:8443/").hostHeader == "localhost:8443")
    }

    @Test func httpURLsTakeOnlyHTTPSchemes() throws {
        let url = try HTTPURL("https://[::1]/echo?x=1")
        #expect(url.isSecure && url.port == 443 && url.host == "::1" && url.path == "/echo?x=1")
        #expect(try HTTPURL("http://a").port == 80)
        #expect(throws: LWSError.invalidURL("ws://a/", reason: "unsupported scheme 'ws'; use http:// or https://")) {
            try HTTPURL("ws://a/")
        }
    }

    @Test func parsesBracketedIPv6() throws {
        let url = try WebSocketURL("ws://[::1]:9000/")
        #expect(url.host == "::1")
        #expect(url.port == 9000)
        #expect(url.hostHeader == "[::1]:9000")
        #expect(url.description == "ws://[::1]:9000/")
    }

    @Test(arguments: [
        ("http://example.com/", "unsupported scheme"),
        ("example.com:80", "expected ws:// or wss://"),
        ("ws://:80/", "no host"),
        ("ws://host:0/", "not a number in 1...65535"),
        ("ws://host:65536/", "not a number in 1...65535"),
        ("ws://host:port/", "not a number in 1...65535"),
        ("ws://[::1/", "unterminated IPv6"),
        ("ws://user@host/", "user information"),
        ("ws://host/a b", "spaces"),
        ("ws://htsA:1]:8443/echo", "characters a host name cannot have"),  // found by scripts/fuzz.sh
        ("ws://a:b:80/", "characters a host name cannot have"),
        ("ws://[example.com]:80/", "not an IPv6 address"),
        ("ws://[1::2]]:80/", "unexpected text after the IPv6 address"),
    ])
    func rejectsWithAReason(url: String, reason: String) {
        #expect {
            _ = try WebSocketURL(url)
        } throws: { error in
            guard case LWSError.invalidURL(let text, let why) = error else { return false }
            return text == url && why.contains(reason)
        }
    }
}
