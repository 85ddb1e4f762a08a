// lwskit-echo-server: LWSKit's echo server for the benchmarks, in either API style over the one
// core: `callback` (a protocol-table handler that sends each message back) or `async` (a
// streaming protocol: a task per connection, `for try await message in connection.messages`,
// `try await connection.sendWithBackpressure(message)`), its tasks running on the server's own thread
// (`executorPreference: connection.executor`) or, with `async-pool`, on Swift's global pool.
// `mirror` is the fan-out server: every connection subscribes to one topic and publishes each
// message it receives there, itself included (Benchmarks/fanout-compare.sh).
// Subprotocol "daniel"; nothing is logged per message.
//
// usage: lwskit-echo-server callback|async|async-pool|mirror [PORT] [CERT KEY] [--threads=N]
//        (default port 28712; with a certificate and key the port speaks only TLS; --threads:
//        service threads serving the port, default 1)

import LWSKit
#if canImport(Glibc)
import Glibc
#endif

let threads = CommandLine.arguments.compactMap { $0.hasPrefix("--threads=") ? Int($0.dropFirst(10)) : nil }.last ?? 1
let arguments = CommandLine.arguments.filter { !$0.hasPrefix("--threads=") }
guard arguments.count >= 2, ["callback", "async", "async-pool", "mirror"].contains(arguments[1]) else {
    print("usage: lwskit-echo-server callback|async|async-pool|mirror [PORT] [CERT KEY] [--threads=N]")
    exit(2)
}
let isAsync = arguments[1].hasPrefix("async")
let port = arguments.count > 2 ? Int(arguments[2]) ?? 28712 : 28712
let tls = arguments.count > 4 ? TLSServerConfiguration(certificateChain: .file(arguments[3]), privateKey: .file(arguments[4])) : nil

let mirror = WebSocketProtocol(name: "daniel") { connection, event in
    switch event {
    case .established: try? connection.subscribe(to: "room")
    case .message(let message): try? connection.publish(message, to: "room", includingSelf: true)
    default: break
    }
}
let daniel = arguments[1] == "mirror" ? mirror : isAsync
    ? WebSocketProtocol.streaming(name: "daniel")
    : WebSocketProtocol(name: "daniel") { connection, event in
        if case .message(let message) = event { try? connection.send(message) }
    }
let server = try WebSocketServer(configuration: .init(
    host: "127.0.0.1", port: port, protocols: [daniel], tls: tls, serviceThreads: .count(threads)))
try server.start()
print("lwskit-echo-server (\(arguments[1]), \(threads) threads): listening on \(server.port)")

if isAsync {
    await withDiscardingTaskGroup { group in
        for await connection in server.connections {
            group.addTask(executorPreference: arguments[1] == "async" ? connection.executor : nil) {
                do {
                    for try await message in connection.messages { try await connection.sendWithBackpressure(message) }
                } catch {}
            }
        }
    }
} else {
    server.waitUntilShutdown()
}
