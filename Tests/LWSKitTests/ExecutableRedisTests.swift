import Foundation
import Testing

/// Three simple-server --mirror processes sharing rooms through a Redis of the test's own
/// (the must-shows), Redis and node faults, and nginx balancing over the nodes as the
/// README shows. The clients are Python `websockets` (`Tests/peers/cluster_rooms.py`).
@Suite("simple-server nodes sharing rooms through Redis", .serialized, .timeLimit(.minutes(3)))
struct ExecutableRedisTests {
    /// A simple-server --mirror node on a free port of 127.0.0.1 using `redis`.
    private func startNode(_ redis: RedisServer, name: String, _ extra: [String] = []) async throws -> (node: PeerProcess, url: String) {
        let node = try PeerProcess(try Peers.executable("simple-server"), [
            "--port", "0", "--host", "127.0.0.1", "--mirror", "--redis", redis.url, "--node-name", name,
        ] + extra, environment: ["ASAN_OPTIONS": "quarantine_size_mb=1"])
        let port = try await node.waitForOutput(/listening on [^\n]*:(\d+)/)
        return (node, "ws://127.0.0.1:\(port)")
    }

    private func startNodes(_ redis: RedisServer, count: Int = 3) async throws -> [(node: PeerProcess, url: String)] {
        var nodes: [(node: PeerProcess, url: String)] = []
        for number in 1...count { nodes.append(try await startNode(redis, name: "P\(number)", ["--log-level", "warning"])) }
        return nodes
    }

    /// Runs `cluster_rooms.py` and returns it, exited.
    private func clusterRooms(_ arguments: [String]) async throws -> PeerProcess {
        let clients = try PeerProcess.python("cluster_rooms.py", arguments)
        _ = try await clients.waitForExit(timeout: .seconds(120))
        return clients
    }

    private func expectOK(_ clients: PeerProcess, _ nodes: [(node: PeerProcess, url: String)], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(clients.exitStatus == 0 && clients.standardOutput.contains("OK"),
                "\(clients.standardOutput) \(clients.standardError)\n\(nodes.map(\.node.standardError).joined(separator: "\n---\n"))",
                sourceLocation: sourceLocation)
    }

    /// Must show: clients on P1, P2 and P3 in /rooms/x receive every message of a publisher on
    /// each node (P1's among them), in order, every byte; clients in /rooms/y receive nothing.
    @Test func threeNodesShareARoomInOrderAndKeepOtherRoomsApart() async throws {
        let redis = try await RedisServer.started()
        let nodes = try await startNodes(redis)
        let count = isUnderSanitizer ? 200 : 1000
        let clients = try await clusterRooms(["rooms"] + nodes.map(\.url) + ["--count", "\(count)"])
        expectOK(clients, nodes)
        #expect(clients.standardOutput.contains("received \(3 * count) messages each"))
        for (node, _) in nodes { #expect(node.isRunning) }
    }

    @Test func aMebibyteBinaryMessageCrossesNodesIntact() async throws {
        let redis = try await RedisServer.started()
        let nodes = try await startNodes(redis)
        let clients = try await clusterRooms(["big"] + nodes.map(\.url) + ["--size", "\(1 << 20)"])
        expectOK(clients, nodes)
    }

    /// Must show: Redis stopped for 5 s and started again on its port: within 10 s of its return
    /// messages cross every node again, and no node exits. Meanwhile a node's own room goes on.
    /// Two more short outages follow, over which the nodes' memory stays flat (measured from
    /// after the first: an AddressSanitizer build's allocator grows by ~5 MiB on the first).
    @Test func nodesReconnectAndResubscribeWhenRedisComesBack() async throws {
        let redis = try await RedisServer.started()
        let nodes = try await startNodes(redis)
        let urls = nodes.map(\.url)
        expectOK(try await clusterRooms(["reach"] + urls), nodes)
        expectOK(try await clusterRooms(["rooms"] + urls + ["--count", "200"]), nodes)
        var afterFirstOutage: [Int] = []
        for outage in [Duration.seconds(5), .seconds(1), .seconds(1)] {
            try await redis.stop()
            let back = ContinuousClock.now + outage
            let local = try PeerProcess.python("mirror_rooms.py", ["rooms", urls[0]])
            #expect(try await local.waitForExit() == 0, "a room on one node, Redis down: \(local.standardOutput) \(local.standardError)")
            try await Task.sleep(until: back)
            try await redis.start()
            expectOK(try await clusterRooms(["reach"] + urls + ["--within", "10"]), nodes)
            expectOK(try await clusterRooms(["rooms"] + urls + ["--count", "200"]), nodes)
            if afterFirstOutage.isEmpty { afterFirstOutage = try nodes.map { try residentBytes(of: $0.node.pid) } }
        }
        for (number, (node, _)) in nodes.enumerated() {
            #expect(node.isRunning, "P\(number + 1) exited: \(node.standardError)")
            let grown = try residentBytes(of: node.pid) - afterFirstOutage[number]
            #expect(grown < 8 << 20, "P\(number + 1)'s RSS grew by \(grown >> 10) KiB over two Redis outages")
            #expect(node.standardError.contains("lost the Redis connection"), "\(node.standardError)")
        }
    }

    /// Must show: P2 killed with SIGKILL, P1 and P3 keep exchanging.
    @Test func aKilledNodeLeavesTheOthersExchanging() async throws {
        let redis = try await RedisServer.started()
        let nodes = try await startNodes(redis)
        expectOK(try await clusterRooms(["reach"] + nodes.map(\.url)), nodes)
        nodes[1].node.send(signal: SIGKILL)
        _ = try await nodes[1].node.waitForExit(timeout: .seconds(10))
        let survivors = [nodes[0], nodes[2]]
        expectOK(try await clusterRooms(["rooms"] + survivors.map(\.url) + ["--count", "300"]), survivors)
        #expect(nodes[0].node.isRunning && nodes[2].node.isRunning)
    }

    /// Redis unreachable at start: the node starts, serves its own rooms and says why it cannot
    /// share them; once Redis is up, it connects and rooms cross nodes.
    @Test func aNodeStartsWithoutRedisServesLocallyAndJoinsWhenRedisArrives() async throws {
        let redis = try RedisServer.notStarted()
        let (early, earlyURL) = try await startNode(redis, name: "early")
        let local = try PeerProcess.python("mirror_rooms.py", ["rooms", earlyURL])
        #expect(try await local.waitForExit() == 0, "\(local.standardOutput) \(local.standardError)")
        #expect(early.standardError.contains("cannot reach Redis"), "\(early.standardError)")

        try await redis.start()
        let (late, lateURL) = try await startNode(redis, name: "late")
        expectOK(try await clusterRooms(["reach", earlyURL, lateURL, "--within", "10"]), [(early, earlyURL), (late, lateURL)])
        #expect(early.standardError.contains("connected to Redis"), "\(early.standardError)")
    }

    @Test func redisRequiredMakesTheNodeFailFastWithoutRedis() async throws {
        let redis = try RedisServer.notStarted()
        let node = try PeerProcess(try Peers.executable("simple-server"), [
            "--port", "0", "--host", "127.0.0.1", "--mirror", "--redis", redis.url, "--redis-required",
        ])
        #expect(try await node.waitForExit(timeout: .seconds(20)) != 0)
        #expect(node.standardError.contains("the topic broker is unavailable: cannot reach Redis at \(redis.url)"), "\(node.standardError)")
        #expect(!node.standardOutput.contains("listening"))
    }

    @Test func redisNeedsMirrorAndAValidURL() async throws {
        for arguments in [["--redis", "redis://127.0.0.1:1"], ["--mirror", "--redis", "http://127.0.0.1:6379"], ["--node-name", "a"]] {
            let node = try PeerProcess(try Peers.executable("simple-server"), ["--port", "0"] + arguments)
            #expect(try await node.waitForExit(timeout: .seconds(20)) != 0, "\(arguments)")
            #expect(!node.standardOutput.contains("listening"), "\(arguments)")
        }
    }

    /// Packaging: hiredis is linked only where `LWSKitRedis` is used. simple-client depends on
    /// `LWSKit` alone, as an application without Redis would.
    @Test func onlyWhatUsesLWSKitRedisLinksHiredis() async throws {
        func linked(_ product: String) async throws -> String {
            let ldd = try PeerProcess("ldd", [try Peers.executable(product)])
            #expect(try await ldd.waitForExit() == 0, "\(ldd.standardError)")
            return ldd.standardOutput
        }
        #expect(try await linked("simple-server").contains("libhiredis"))
        let client = try await linked("simple-client")
        #expect(client.contains("libwebsockets") && !client.contains("libhiredis"), "\(client)")
    }

    /// The README's setup: nginx with an `upstream` of the three nodes and the upgrade headers.
    /// Clients through it land on every node and share the room.
    @Test func nginxInFrontOfThreeNodesAsTheREADMEShows() async throws {
        let redis = try await RedisServer.started()
        var nodes: [(node: PeerProcess, url: String)] = []
        for number in 1...3 { nodes.append(try await startNode(redis, name: "P\(number)", ["--log-level", "info"])) }
        let balancer = try await NginxBalancer(nodes: nodes.map { Int($0.url.split(separator: ":").last!)! })
        let clients = try await clusterRooms(["spread", "ws://127.0.0.1:\(balancer.port)", "--clients", "6"])
        expectOK(clients, nodes)
        for (number, (node, _)) in nodes.enumerated() {
            #expect(node.standardError.contains("path=/rooms/spread"), "P\(number + 1) served no client: \(node.standardError)")
        }
    }
}
