import ArgumentParser
import Dispatch
import Logging
import LWSKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The "daniel" example client: sends numbered messages, checks every echo, closes with 1000.
/// Given an http:// or https:// URL it makes one HTTP request instead and prints the body.
@main
struct SimpleClient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simple-client",
        abstract: "Sends messages to a \"daniel\" echo server and checks every reply.",
        discussion: """
        Exits 0 only when every reply matched what was sent (in --echo mode: when the server closed). \
        With an http:// or https:// URL: GET (or POST with --data), print the body, exit 0 on 2xx.
        """
    )

    @Argument(help: "The server's ws:// or wss:// URL (or an http:// or https:// URL).")
    var url = "ws://127.0.0.1:28709"

    @Option(help: "How many messages to send.")
    var count = 3

    @Option(help: "Seconds to wait between messages (0: send them all at once).")
    var interval = 0.0

    @Option(help: "Text of each message; a sequence number is appended (\"hello 1\").")
    var message = "hello"

    @Option(help: "Send binary messages of this many bytes instead of text.")
    var binarySize: Int?

    @Flag(help: "Mirror mode: send nothing, echo every message the server sends until it closes.")
    var echo = false

    @Option(name: .customLong("protocol"), help: "The subprotocol to ask for (\"\" for none).")
    var subprotocol = "daniel"

    @Option(help: "Give up after this many seconds (0: never).")
    var timeout = 30.0

    @Option(help: "PEM file of the CA certificates to trust for wss:// and https:// (default: the system's).")
    var ca: String?

    @Flag(help: "Accept a self-signed server certificate and skip the host name check (insecure).")
    var insecure = false

    @Flag(help: "Offer permessage-deflate (RFC 7692); used if the server accepts it.")
    var permessageDeflate = false

    @Option(help: "HTTP mode: POST this text instead of a GET.")
    var data: String?

    @Option(help: "HTTP mode: the content type of --data.")
    var contentType = "text/plain; charset=utf-8"

    @Option(name: .customLong("header"), help: ArgumentHelp(
        "A header to send with the WebSocket handshake or the HTTP request, as 'Name: value' (repeatable).",
        valueName: "header"))
    var headerLines: [String] = []

    /// The --header options as header fields.
    var headers: HTTPHeaders {
        HTTPHeaders(headerLines.map { line in
            let parts = line.split(separator: ":", maxSplits: 1)
            let trim: (Substring) -> String = { String($0.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
            return (trim(parts[0]), trim(parts[1]))
        })
    }

    /// TLS settings from --ca and --insecure; nil when neither is given.
    var tls: TLSClientConfiguration? {
        guard ca != nil || insecure else { return nil }
        return TLSClientConfiguration(trustRoots: ca.map { .file($0) }, allowSelfSigned: insecure, skipHostnameCheck: insecure)
    }

    var isHTTP: Bool {
        let lowered = url.lowercased()
        return lowered.hasPrefix("http://") || lowered.hasPrefix("https://")
    }

    func validate() throws {
        guard count >= 0 else { throw ValidationError("--count must be at least 0") }
        guard interval >= 0, timeout >= 0 else { throw ValidationError("--interval and --timeout must not be negative") }
        if let binarySize, binarySize < 0 { throw ValidationError("--binary-size must not be negative") }
        for line in headerLines where !line.contains(":") || line.hasPrefix(":") {
            throw ValidationError("--header '\(line)' is not 'Name: value'")
        }
    }

    func run() throws {
        if insecure {
            writeLine("simple-client: --insecure: the server's certificate is NOT verified (self-signed accepted, host name not checked)", to: 2)
        }
        if isHTTP {
            try HTTPRequestRun(url: url, body: data, contentType: contentType, headers: headers, tls: tls, timeout: timeout).run()
            return
        }
        let plan = echo ? [] : (1...max(count, 1)).prefix(count).map(outgoing(number:))
        let session = Session(expected: plan, echo: echo)
        let client: WebSocketClient
        do {
            var logger = Logger(label: "simple-client")
            logger.logLevel = .critical  // failures are printed once, with their reason, below
            client = try WebSocketClient(configuration: .init(tls: tls, permessageDeflate: permessageDeflate), logger: logger)
            try client.connect(to: url, subprotocol: subprotocol.isEmpty ? nil : subprotocol, headers: headers) { connection, event in
                session.handle(event, on: connection, interval: interval)
            }
        } catch {
            writeLine("simple-client: \(error)", to: 2)
            throw ExitCode.failure
        }
        let finishedInTime = session.wait(seconds: timeout)
        client.syncShutdown(grace: .seconds(1))
        guard finishedInTime else {
            writeLine("simple-client: no result after \(timeout) seconds (\(session.progress))", to: 2)
            throw ExitCode.failure
        }
        if let failure = session.failure {
            writeLine("simple-client: \(failure)", to: 2)
            throw ExitCode.failure
        }
    }

    /// The message numbered `number` (from 1).
    func outgoing(number: Int) -> Message {
        guard let binarySize else { return .text("\(message) \(number)") }
        return .binary((0..<binarySize).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ number) })
    }
}

/// Writes one line straight to a file descriptor (1: standard output, 2: standard error),
/// unbuffered, so a process reading the pipe sees it at once.
func writeLine(_ line: String, to descriptor: Int32 = 1) {
    var text = line + "\n"
    text.withUTF8 { bytes in _ = write(descriptor, bytes.baseAddress, bytes.count) }
}
