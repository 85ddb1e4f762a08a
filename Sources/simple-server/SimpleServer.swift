import ArgumentParser
import Foundation
import Logging
import LWSKit
import LWSKitRedis
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The "daniel" echo server: every message comes back to its sender, text as text and binary
/// as binary.
@main
struct SimpleServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simple-server",
        abstract: "WebSocket echo (or, with --mirror, room) server for the \"daniel\" subprotocol (also served to clients naming none)."
    )

    @Option(help: "TCP port to listen on; 0 picks a free port.")
    var port = 28709

    @Option(help: "Address, interface or host name to listen on, one address of this machine (default: all interfaces).")
    var host: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel = "info"

    @Option(help: "Seconds without traffic before pinging a client (needs --idle-timeout; default 60).")
    var pingInterval: Int?

    @Option(help: "Seconds without traffic (pongs count) before dropping a client (default 120).")
    var idleTimeout: Int?

    @Option(help: "Largest accepted message in bytes; larger ones close the connection with 1009.")
    var maxMessageSize = WebSocketLimits().maxMessageSize

    @Option(help: "PEM certificate chain: serve wss:// and https:// (needs --tls-key).")
    var tlsCert: String?

    @Option(help: "PEM private key of --tls-cert.")
    var tlsKey: String?

    @Flag(help: "Offer HTTP/2 to TLS clients (ALPN h2; needs --tls-cert). Off by default: libwebsockets 4.1.6's HTTP/2 has known defects (README).")
    var http2 = false

    @Option(help: "Directory served at / over HTTP (default: the page bundled with simple-server).")
    var webRoot: String?

    @Flag(help: "Accept permessage-deflate (RFC 7692) from clients that offer it.")
    var permessageDeflate = false

    @Option(help: ArgumentHelp(
        "Also let web pages from this origin open WebSockets (repeatable; * for any). By default only the server's own pages may: a handshake whose Origin is another host or port is answered 403.",
        valueName: "origin"))
    var allowOrigin: [String] = []

    @Option(help: "Refuse WebSocket handshakes (401) that carry neither 'Authorization: Bearer TOKEN' nor ?token=TOKEN. HTTP pages stay open.")
    var token: String?

    @Flag(help: "Mirror instead of echo: every message is published to the room named by the connection's URL path (/rooms/a), its sender included.")
    var mirror = false

    @Option(help: "Most unsent bytes per mirror subscriber before the slow-subscriber policy applies (default 1 MiB).")
    var maxBacklog: Int = 1 << 20

    @Option(help: "What happens to a mirror subscriber past --max-backlog: drop (its messages are dropped and counted) or close (1013).")
    var slowSubscriber: SlowSubscriberChoice = .drop

    @Option(help: "Service threads (loops) serving the port: a number, or 'auto' for one per available core. Each connection stays on one thread.")
    var threads: ThreadsChoice = .count(1)

    @Option(help: "Share --mirror rooms with other simple-servers through Redis: redis://[[user]:password@]host[:port]. Starts (and retries) when Redis is down.")
    var redis: String?

    @Option(help: "This server's name in the Redis broker's log lines (default: host name and process id).")
    var nodeName: String?

    @Flag(help: "With --redis, exit non-zero at start when Redis cannot be reached, instead of retrying.")
    var redisRequired = false

    /// `--threads`' values.
    enum ThreadsChoice: ExpressibleByArgument {
        case count(Int)
        case auto

        init?(argument: String) {
            if argument == "auto" { self = .auto; return }
            guard let count = Int(argument), (1...256).contains(count) else { return nil }
            self = .count(count)
        }

        var serviceThreads: ServiceThreads {
            switch self {
            case .count(let count): .count(count)
            case .auto: .perCore
            }
        }
    }

    /// `--slow-subscriber`'s values.
    enum SlowSubscriberChoice: String, ExpressibleByArgument {
        case drop, close
    }

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown log level '\(logLevel)'")
        }
        guard (pingInterval == nil) == (idleTimeout == nil) else {
            throw ValidationError("--ping-interval and --idle-timeout go together")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        guard maxBacklog >= 1 else {
            throw ValidationError("--max-backlog must be at least 1")
        }
        guard !http2 || tlsCert != nil else {
            throw ValidationError("--http2 needs --tls-cert and --tls-key (HTTP/2 is offered only through TLS)")
        }
        guard redis == nil || mirror else {
            throw ValidationError("--redis shares rooms: it needs --mirror")
        }
        guard redis != nil || (nodeName == nil && !redisRequired) else {
            throw ValidationError("--node-name and --redis-required need --redis")
        }
    }

    /// SIGINT and SIGTERM: blocked in every thread and taken by one with `sigwait`. (A
    /// dispatch signal source over an ignored signal missed SIGTERM in a ThreadSanitizer build
    /// started with nothing blocked: TSan's own handler took it.)
    static var shutdownSignals: sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        return signals
    }

    func run() throws {
        // Before any thread starts, so that every thread inherits the mask.
        var signals = Self.shutdownSignals
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "simple-server")
        logger.logLevel = Logger.Level(rawValue: logLevel)!

        let server: WebSocketServer
        do {
            server = try WebSocketServer(
                configuration: .init(
                    host: host, port: port, protocols: [Self.daniel(logger: logger, token: token, mirror: mirror)],
                    limits: .init(maxMessageSize: maxMessageSize),
                    keepalive: pingInterval.map { .init(pingInterval: .seconds($0), idleTimeout: .seconds(idleTimeout!)) } ?? .serverDefault,
                    tls: tlsCert.map { .init(certificateChain: .file($0), privateKey: .file(tlsKey!), http2: http2) },
                    http: .init(
                        mounts: [.files("/", directory: try webRoot ?? Self.bundledWebRoot())],
                        routes: [HTTPRoute("POST", "/echo", handler: Self.echoBody)]
                    ),
                    permessageDeflate: permessageDeflate,
                    origins: OriginPolicy(allowing: allowOrigin),
                    slowSubscribers: SlowSubscriberPolicy(
                        maxBacklog: maxBacklog, action: slowSubscriber == .drop ? .dropMessages : .close(.tryAgainLater)
                    ),
                    serviceThreads: threads.serviceThreads,
                    topicBroker: try redis.map { url in
                        try RedisTopicBroker(
                            url: url, configuration: .init(nodeName: nodeName, requiresConnectionAtStart: redisRequired), logger: logger)
                    }
                ),
                logger: logger
            )
            try server.start()
        } catch {
            writeLine("simple-server: \(error)", to: 2)
            throw ExitCode.failure
        }
        writeLine("simple-server: listening on \(host ?? "*"):\(server.port)\(tlsCert == nil ? "" : " (TLS)")")

        Thread { [logger] in
            var number: Int32 = 0
            var signals = Self.shutdownSignals
            guard sigwait(&signals, &number) == 0 else { return }
            logger.info("signal \(number): shutting down")
            server.syncShutdown(grace: .seconds(2))
        }.start()
        server.waitUntilShutdown()
        logger.info("stopped")
    }

    /// Upgrades only handshakes with `Authorization: Bearer <token>` or `?token=<token>`;
    /// others get 401 with a `www-authenticate` challenge.
    static func requireToken(_ token: String) -> WebSocketUpgradeDecider {
        { request in
            if request.headers["authorization"] == "Bearer \(token)" || request.queryValue("token") == token { return .accept }
            return .refuse(HTTPResponse(
                status: 401, headers: ["www-authenticate": "Bearer", "content-type": "text/plain; charset=utf-8"],
                body: Array("a WebSocket here needs 'Authorization: Bearer <token>' or ?token=<token>\n".utf8)
            ))
        }
    }

    /// `POST /echo`: the request body back, with the request's content type.
    static func echoBody(_ request: HTTPRequest) -> HTTPResponse {
        HTTPResponse(
            status: 200,
            headers: ["content-type": request.headers["content-type"] ?? "application/octet-stream"],
            body: request.body
        )
    }

    /// The web page shipped with simple-server (a SwiftPM resource next to the executable).
    static func bundledWebRoot() throws -> String {
        guard let url = Bundle.module.url(forResource: "web", withExtension: nil) else {
            throw ValidationError("the bundled web root is missing; pass --web-root DIR")
        }
        return url.path
    }

    /// The echo protocol: logs each event and sends every message back unchanged; with
    /// `mirror`, publishes it to the room of the connection's path instead (the lws test
    /// server's mirror protocol, with rooms). With a `token`, only handshakes presenting it are
    /// upgraded.
    static func daniel(logger: Logger, token: String?, mirror: Bool) -> WebSocketProtocol {
        WebSocketProtocol(name: "daniel", shouldUpgrade: token.map(requireToken)) { connection, event in
            let room = connection.request?.path ?? "/"
            switch event {
            case .established:
                logger.info("connected", metadata: [
                    "peer": "\(connection.peer)", "id": "\(connection.id)", "protocol": "\(connection.subprotocol ?? "(none)")",
                    "path": "\(room)",
                ])
                if mirror { try? connection.subscribe(to: room) }
            case .message(let message):
                logger.info("received \(message)", metadata: ["id": "\(connection.id)"])
                do {
                    if mirror {
                        try connection.publish(message, to: room, includingSelf: true)
                    } else {
                        try connection.send(message)
                    }
                } catch {
                    logger.warning("cannot \(mirror ? "publish" : "echo"): \(error)", metadata: ["id": "\(connection.id)"])
                }
            case .closed(let code, let reason):
                let dropped = connection.droppedPublishCount
                logger.info("closed \(code) \(reason)", metadata: ["id": "\(connection.id)"].merging(
                    dropped > 0 ? ["droppedPublishes": "\(dropped)"] : [:]) { $1 })
            case .pong(let payload):
                logger.debug("pong (\(payload.count) bytes)", metadata: ["id": "\(connection.id)"])
            case .writeable, .connectionError:
                break
            }
        }
    }
}

/// Writes one line straight to a file descriptor (1: standard output, 2: standard error),
/// unbuffered, so a process reading the pipe sees it at once.
func writeLine(_ line: String, to descriptor: Int32 = 1) {
    var text = line + "\n"
    text.withUTF8 { bytes in _ = write(descriptor, bytes.baseAddress, bytes.count) }
}
