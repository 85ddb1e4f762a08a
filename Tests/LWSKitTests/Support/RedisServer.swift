import Foundation
@testable import LWSKit

/// A redis-server of the test's own on 127.0.0.1, persistence off, that the test can stop
/// (SIGKILL, or SIGSTOP to make it silent) and start again on the same port.
///
/// Its port lies below the system's ephemeral range: servers of the tests running beside bind
/// port 0 and are given ports from that range, so none can take this one while Redis is
/// stopped for a restart.
final class RedisServer: @unchecked Sendable {
    let port: Int
    private let process = LockedValue<PeerProcess?>(nil)

    /// `redis://127.0.0.1:PORT`.
    var url: String { "redis://127.0.0.1:\(port)" }

    private init(port: Int) {
        self.port = port
    }

    /// A running Redis on a port of its own.
    static func started() async throws -> RedisServer {
        var lastError: Error?
        for _ in 0..<20 {
            let redis = RedisServer(port: try portOutsideTheEphemeralRange())
            do {
                try await redis.start()
                return redis
            } catch {
                lastError = error  // (the port was taken meanwhile by another program: try another)
            }
        }
        throw lastError!
    }

    /// A Redis not running yet: nothing listens on its port until `start`.
    static func notStarted() throws -> RedisServer {
        RedisServer(port: try portOutsideTheEphemeralRange())
    }

    /// Starts Redis on `port`; returns once it accepts connections.
    func start() async throws {
        let redis = try PeerProcess("redis-server", [
            "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning",
        ])
        process.withLock { $0 = redis }
        let deadline = ContinuousClock.now + .seconds(20)
        while !(try await cli(["PING"]).contains("PONG")) {
            guard redis.isRunning, ContinuousClock.now < deadline else {
                throw PeerError("redis-server did not start on port \(port): \(redis.standardOutput) \(redis.standardError)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Kills Redis with `signal` (SIGKILL by default) and waits for it to exit.
    func stop(signal: Int32 = SIGKILL) async throws {
        guard let redis = process.withLock({ $0 }) else { return }
        redis.send(signal: signal)
        _ = try await redis.waitForExit(timeout: .seconds(10))
        process.withLock { $0 = nil }
    }

    /// Sends `signal` (SIGSTOP, SIGCONT) to the running Redis.
    func send(signal: Int32) {
        process.withLock { $0 }?.send(signal: signal)
    }

    /// Runs `redis-cli` against this Redis and returns what it printed (`PUBSUB NUMSUB c`).
    func cli(_ arguments: [String], input: [UInt8]? = nil) async throws -> String {
        let command = try PeerProcess("sh", ["-c", input == nil ? "exec redis-cli -p \(port) \"$@\"" : "printf \"$INPUT\" | redis-cli -p \(port) -x \"$@\"", "redis-cli"] + arguments,
                                      environment: input.map { ["INPUT": $0.map { "\\" + String($0, radix: 8) }.joined()] } ?? [:])
        _ = try await command.waitForExit(timeout: .seconds(10))
        return command.standardOutput + command.standardError
    }

    deinit {
        process.withLock { $0 }?.send(signal: SIGKILL)
    }
}

/// nginx in front of server nodes, as the README shows: an `upstream` of the nodes and the
/// WebSocket upgrade headers. One process (`master_process off`), everything in a folder of
/// its own.
final class NginxBalancer: @unchecked Sendable {
    let port: Int
    private let process: PeerProcess
    private let folder: URL

    /// nginx on a free port below the ephemeral range, balancing over `nodes` (ports of
    /// 127.0.0.1).
    init(nodes: [Int]) async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("lwskit-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var started: (Int, PeerProcess)?
        for _ in 0..<20 where started == nil {
            let port = try portOutsideTheEphemeralRange()
            let configuration = folder.appendingPathComponent("nginx.conf")
            try Self.configuration(port: port, nodes: nodes, folder: folder.path).write(to: configuration, atomically: true, encoding: .utf8)
            let nginx = try PeerProcess("nginx", ["-p", folder.path, "-c", configuration.path])
            let deadline = ContinuousClock.now + .seconds(10)
            while nginx.isRunning, ContinuousClock.now < deadline, !isListening(port: port) {
                try await Task.sleep(for: .milliseconds(20))
            }
            if nginx.isRunning, isListening(port: port) { started = (port, nginx) }
        }
        guard let started else { throw PeerError("nginx did not start") }
        (port, process) = started
    }

    deinit {
        process.send(signal: SIGKILL)
        try? FileManager.default.removeItem(at: folder)
    }

    /// The configuration: the README's `upstream` and `location` blocks, in a server of one
    /// foreground process whose files all live in `folder`.
    private static func configuration(port: Int, nodes: [Int], folder: String) -> String {
        """
        daemon off;
        master_process off;
        error_log stderr warn;
        pid \(folder)/nginx.pid;
        events { worker_connections 256; }
        http {
            access_log off;
            client_body_temp_path \(folder)/body;
            proxy_temp_path \(folder)/proxy;
            fastcgi_temp_path \(folder)/fastcgi;
            uwsgi_temp_path \(folder)/uwsgi;
            scgi_temp_path \(folder)/scgi;

            upstream lwskit_nodes {
        \(nodes.map { "        server 127.0.0.1:\($0);" }.joined(separator: "\n"))
            }
            server {
                listen 127.0.0.1:\(port);
                location / {
                    proxy_pass http://lwskit_nodes;
                    proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                    proxy_set_header Host $host;
                    proxy_read_timeout 1h;
                }
            }
        }
        """
    }
}

/// A port that nothing listens on now, below the system's ephemeral range (so that no socket
/// bound to port 0 is given it) and away from simple-server's default 28709.
func portOutsideTheEphemeralRange() throws -> Int {
    let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? "32768 60999"
    let low = Int(range.split(whereSeparator: \.isWhitespace).first ?? "") ?? 32768
    let candidates = Array(Swift.max(10_000, low - 12_000)..<Swift.max(10_001, low - 1)).filter { $0 != 28709 }
    for _ in 0..<100 {
        let port = candidates.randomElement()!
        if isFree(port: port) { return port }
    }
    throw PeerError("no free port below the ephemeral range")
}

/// Whether something accepts connections on 127.0.0.1:`port`.
func isListening(port: Int) -> Bool {
    (try? RawSocket(port: port)) != nil
}

/// Whether 127.0.0.1:`port` can be bound now (the probe lets it go at once).
private func isFree(port: Int) -> Bool {
    let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(probe) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}
