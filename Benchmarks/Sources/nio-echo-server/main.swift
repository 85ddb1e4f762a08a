// nio-echo-server: the SwiftNIO reference of LWSKit's benchmarks, an echo server written the way
// NIOWebSocket's own example server is: HTTP/1 pipeline with the WebSocket upgrader, subprotocol
// "daniel", fragments aggregated into whole messages, each message written back with its opcode
// and flushed when a read burst ends. One event loop thread, like libwebsockets' one service
// thread.
//
// usage: nio-echo-server [PORT]   (default 28711)

import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// Sends every text and binary message back to its sender; answers pings and closes.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var awaitingClose = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: frame.opcode, data: frame.unmaskedData)), promise: nil)
        case .ping:
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            guard !awaitingClose else { return }
            awaitingClose = true
            var payload = frame.unmaskedData
            let code = payload.readSlice(length: 2) ?? ByteBuffer()
            let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: code)))
                .whenComplete { _ in boundContext.value.close(promise: nil) }
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
}

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 28711 : 28711
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let upgrader = NIOWebSocketServerUpgrader(
    maxFrameSize: 16 << 20,
    automaticErrorHandling: true,
    shouldUpgrade: { channel, head in
        var headers = HTTPHeaders()
        let offered = head.headers["sec-websocket-protocol"].flatMap { $0.split(separator: ",") }
            .map { String($0.filter { $0 != " " }) }
        if offered.contains("daniel") { headers.add(name: "Sec-WebSocket-Protocol", value: "daniel") }
        return channel.eventLoop.makeSucceededFuture(headers)
    },
    upgradePipelineHandler: { channel, _ in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
                NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 1 << 16, maxAccumulatedFrameSize: 16 << 20))
            try channel.pipeline.syncOperations.addHandler(EchoHandler())
        }
    }
)
let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
    }
let channel = try bootstrap.bind(host: "127.0.0.1", port: port).wait()
print("nio-echo-server: listening on \(port)")
try channel.closeFuture.wait()
