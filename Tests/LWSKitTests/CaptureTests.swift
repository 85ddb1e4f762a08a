import Foundation
import Testing

/// The committed packet captures (`captures/`, recorded by `captures/record.sh`), read with
/// tshark: the "daniel" handshake, masking by direction, echoes equal to what was sent, and a
/// Chrome User-Agent in the browser session.
@Suite("Packet captures", .timeLimit(.minutes(2)))
struct CaptureTests {
    /// simple-server's port in both captures.
    private static let serverPort = "28709"
    private static let directory = Peers.scriptDirectory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("captures")

    /// One WebSocket frame as tshark decodes it.
    private struct Frame {
        let fromServer: Bool
        let opcode: Int
        let masked: Bool
        let text: String
        let closeCode: String
    }

    /// Runs tshark on a capture with port 28709 decoded as HTTP; returns one row per packet
    /// matching `filter`, each field split into its occurrences (several frames in one packet).
    private func tshark(_ capture: String, filter: String, fields: [String]) async throws -> [[[String]]] {
        let path = Self.directory.appendingPathComponent(capture).path
        let arguments = ["-r", path, "-d", "tcp.port==\(Self.serverPort),http", "-Y", filter, "-T", "fields",
                         "-E", "separator=\t", "-E", "aggregator=\u{1F}", "-E", "occurrence=a"] + fields.flatMap { ["-e", $0] }
        let process = try PeerProcess("/usr/bin/tshark", arguments)
        let status = try await process.waitForExit(timeout: .seconds(30))
        #expect(status == 0, "tshark: \(process.standardError)")
        return process.standardOutput.split(separator: "\n").map { line in
            line.split(separator: "\t", omittingEmptySubsequences: false).map { field in
                field.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
            }
        }
    }

    /// Every WebSocket frame of a capture, in order.
    private func frames(_ capture: String) async throws -> [Frame] {
        let rows = try await tshark(capture, filter: "websocket", fields: [
            "tcp.srcport", "websocket.opcode", "websocket.mask", "websocket.payload.text", "websocket.payload.close.status_code",
        ])
        return rows.flatMap { row -> [Frame] in
            let fromServer = row[0].first == Self.serverPort
            let opcodes = row[1]
            return opcodes.indices.map { index in
                func field(_ column: Int) -> String { row.indices.contains(column) && row[column].indices.contains(index) ? row[column][index] : "" }
                return Frame(
                    fromServer: fromServer,
                    opcode: Int(opcodes[index], radix: 10) ?? Int(opcodes[index].dropFirst(2), radix: 16) ?? -1,
                    masked: ["1", "True", "true"].contains(field(2)),
                    text: field(3),
                    closeCode: field(4)
                )
            }
        }
    }

    /// The negotiated subprotocol of the capture's 101 responses.
    private func handshakeProtocols(_ capture: String) async throws -> [String] {
        try await tshark(capture, filter: "http.response.code == 101", fields: ["http.sec_websocket_protocol"])
            .map { $0.first?.first ?? "" }
    }

    /// Client frames are masked, server frames not; every text the client sent comes back.
    private func expectMaskingAndEchoes(_ frames: [Frame], texts: Int) {
        #expect(frames.contains { !$0.fromServer } && frames.contains { $0.fromServer })
        #expect(frames.allSatisfy { $0.masked != $0.fromServer }, "masking by direction: \(frames)")
        let sent = frames.filter { !$0.fromServer && $0.opcode == 1 }.map(\.text)
        let echoed = frames.filter { $0.fromServer && $0.opcode == 1 }.map(\.text)
        #expect(sent.count == texts, "\(sent)")
        #expect(echoed == sent)
    }

    @Test func simpleClientSessionHasTheDanielHandshakeMaskedFramesEchoesAndA1000Close() async throws {
        #expect(try await handshakeProtocols("ws_cap.pcap") == ["daniel"])
        let frames = try await frames("ws_cap.pcap")
        expectMaskingAndEchoes(frames, texts: 3)
        #expect(frames.filter { !$0.fromServer && $0.opcode == 1 }.map(\.text) == ["hello 1", "hello 2", "hello 3"])
        let closes = frames.filter { $0.opcode == 8 }
        #expect(closes.first.map { !$0.fromServer && $0.closeCode == "1000" } == true, "\(closes)")
        #expect(closes.contains { $0.fromServer }, "the server answers the close")
    }

    @Test func browserSessionLoadsThePageThenEchoesOverDanielWithAChromeUserAgent() async throws {
        let requests = try await tshark("ws_server_and_web.pcap", filter: "http.request",
                                        fields: ["http.request.uri", "http.user_agent"])
        let pageRequest = requests.first { $0[0].first?.hasPrefix("/?url=") == true }
        #expect(pageRequest != nil, "the page's GET: \(requests)")
        #expect(requests.allSatisfy { $0[1].first?.contains("Chrome/") == true }, "\(requests)")
        #expect(try await handshakeProtocols("ws_server_and_web.pcap") == ["daniel"])
        expectMaskingAndEchoes(try await frames("ws_server_and_web.pcap"), texts: 1)
    }
}
