import Foundation
import Testing

/// The TLS, HTTP and deflate must-shows of simple-server and simple-client, as processes: a
/// Python wss client, curl over HTTP/1.1 and HTTP/2, simple-client in wss and https modes, and
/// Python with compression against `--permessage-deflate`.
@Suite("Example executables over TLS, HTTP and deflate", .serialized, .timeLimit(.minutes(2)))
struct ExecutableTLSTests {
    /// simple-server on a free port of 127.0.0.1 with `certificate` (nil: plain) and `extra`
    /// flags; returns it and its port once it says it listens (with "(TLS)" when it should).
    private func startServer(certificate: TestCertificates.Pair?, _ extra: [String] = []) async throws -> (PeerProcess, String) {
        let tls = certificate.map { ["--tls-cert", $0.certificate, "--tls-key", $0.key] } ?? []
        let server = try PeerProcess(try Peers.executable("simple-server"), ["--port", "0", "--host", "127.0.0.1"] + tls + extra)
        let port = try await server.waitForOutput(/listening on [^\n]*:(\d+)/)
        #expect(server.standardOutput.contains(":\(port) (TLS)\n") == (certificate != nil), "\(server.standardOutput)")
        return (server, port)
    }

    /// simple-server with the test leaf certificate.
    private func startTLSServer(_ extra: [String] = []) async throws -> (PeerProcess, String, TestCertificates) {
        let certificates = try TestCertificates.shared()
        let (server, port) = try await startServer(certificate: certificates.leaf, extra)
        return (server, port, certificates)
    }

    private func run(_ executable: String, _ arguments: [String]) async throws -> PeerProcess {
        let process = try PeerProcess(executable, arguments)
        _ = try await process.waitForExit()
        return process
    }

    @Test func pythonClientEchoesTextAndOneMebibyteOverWSSWithDaniel() async throws {
        let (server, port, certificates) = try await startTLSServer()
        defer { server.send(signal: SIGTERM) }
        let python = try PeerProcess.python("ws_client.py", ["wss://localhost:\(port)/", "--protocol", "daniel", "--ca", certificates.ca])
        #expect(try await python.waitForExit() == 0, "\(python.standardOutput) \(python.standardError)")
        #expect(python.standardOutput.contains("subprotocol daniel"))
        #expect(python.standardOutput.contains("text: ok"))
        #expect(python.standardOutput.contains("1 MiB binary: ok"))
    }

    /// HTTP/2 only with --http2: curl offers h2 either way.
    @Test(arguments: [([], "1.1"), (["--http2"], "2")])
    func curlGetsThePageA404AndTheEchoedBody(serverArguments: [String], expectedVersion: String) async throws {
        let (server, port, certificates) = try await startTLSServer(serverArguments)
        defer { server.send(signal: SIGTERM) }
        let base = "https://localhost:\(port)"
        let common = ["-sS", "--max-time", "20", "--cacert", certificates.ca, "--http2"]
        let page = try await run("/usr/bin/curl", common + ["-w", "\n%{http_code} %{http_version}", base + "/"])
        #expect(page.standardOutput.hasSuffix("200 \(expectedVersion)"), "\(page.standardOutput)")
        #expect(page.standardOutput.contains("LWSKit WebSocket test page"))
        let missing = try await run("/usr/bin/curl", common + ["-o", "/dev/null", "-w", "%{http_code}", base + "/no-such-file.html"])
        #expect(missing.standardOutput == "404")
        let body = "byte-for-byte: ünïcødé\n\t<&>"
        let echo = try await run("/usr/bin/curl", common + ["-H", "content-type: text/x-daniel", "--data-binary", body, "-w", "|%{content_type}", base + "/echo"])
        #expect(echo.standardOutput == body + "|text/x-daniel")
    }

    @Test func simpleClientVerifiesWithTheCAAndFailsClearlyWithoutIt() async throws {
        let (server, port, certificates) = try await startTLSServer()
        defer { server.send(signal: SIGTERM) }
        let client = try Peers.executable("simple-client")
        let trusted = try await run(client, ["wss://localhost:\(port)", "--ca", certificates.ca])
        #expect(trusted.exitStatus == 0, "\(trusted.standardError)")
        #expect(trusted.standardOutput.contains("reply 3: text \"hello 3\""))
        let untrusted = try await run(client, ["wss://localhost:\(port)"])
        #expect(untrusted.exitStatus != 0)
        #expect(untrusted.standardError.contains("certificate verify failed: unable to get local issuer certificate"), "\(untrusted.standardError)")
    }

    @Test func simpleClientInsecureAcceptsASelfSignedServerAndSaysSo() async throws {
        let (server, port) = try await startServer(certificate: try TestCertificates.shared().selfSigned)
        defer { server.send(signal: SIGTERM) }
        let client = try await run(try Peers.executable("simple-client"), ["wss://127.0.0.1:\(port)", "--insecure", "--count", "1"])
        #expect(client.exitStatus == 0, "\(client.standardError)")
        #expect(client.standardError.contains("NOT verified"))
    }

    @Test func simpleClientFetchesThePageAndPostsToEcho() async throws {
        let (server, port, certificates) = try await startTLSServer()
        defer { server.send(signal: SIGTERM) }
        let client = try Peers.executable("simple-client")
        let page = try await run(client, ["https://localhost:\(port)/", "--ca", certificates.ca])
        #expect(page.exitStatus == 0, "\(page.standardError)")
        #expect(page.standardOutput.contains("<title>LWSKit WebSocket test page</title>"))
        let posted = try await run(client, ["https://localhost:\(port)/echo", "--ca", certificates.ca, "--data", "posted by simple-client"])
        #expect(posted.exitStatus == 0, "\(posted.standardError)")
        #expect(posted.standardOutput == "posted by simple-client\n")
        let missing = try await run(client, ["https://localhost:\(port)/missing", "--ca", certificates.ca])
        #expect(missing.exitStatus != 0)
        #expect(missing.standardError.contains("HTTP status 404"))
    }

    @Test(arguments: [false, true])
    func pythonWithCompressionEchoesThroughPermessageDeflate(tls: Bool) async throws {
        let certificates = try TestCertificates.shared()
        let (server, port) = try await startServer(certificate: tls ? certificates.leaf : nil, ["--permessage-deflate"])
        let url = tls ? "wss://localhost:\(port)/" : "ws://127.0.0.1:\(port)/"
        defer { server.send(signal: SIGTERM) }
        let python = try PeerProcess.python("ws_client.py", [url, "--deflate", "--ca", certificates.ca])
        #expect(try await python.waitForExit() == 0, "\(python.standardOutput) \(python.standardError)")
        // The handshake shows the extension accepted; random and compressible 1 MiB (and 4 MiB) echo.
        #expect(python.standardOutput.contains("extensions permessage-deflate"))
        #expect(python.standardOutput.contains("1 MiB binary: ok"))
        #expect(python.standardOutput.contains("1 MiB compressible binary: ok"))
        #expect(python.standardOutput.contains("4 MiB random binary: ok"))
    }
}
