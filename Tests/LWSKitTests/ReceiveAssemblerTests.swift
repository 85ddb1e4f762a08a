import Testing
@testable import LWSKit

@Suite("ReceiveAssembler")
struct ReceiveAssemblerTests {
    private func feed(
        _ assembler: inout ReceiveAssembler, _ bytes: [UInt8],
        first: Bool, final: Bool, binary: Bool, remaining: Int = 0
    ) -> ReceiveAssembler.Outcome {
        bytes.withUnsafeBytes {
            assembler.append($0, isFirst: first, isFinal: final, isBinary: binary, remainingInFrame: remaining)
        }
    }

    @Test func deliversASingleChunkMessage() {
        var assembler = ReceiveAssembler(maxMessageSize: 100)
        #expect(feed(&assembler, Array("hi".utf8), first: true, final: true, binary: false) == .complete(.text("hi")))
        #expect(feed(&assembler, [1, 2], first: true, final: true, binary: true) == .complete(.binary([1, 2])))
        #expect(feed(&assembler, [], first: true, final: true, binary: false) == .complete(.text("")))
    }

    @Test func joinsChunksAndKeepsTheFirstFramesType() {
        var assembler = ReceiveAssembler(maxMessageSize: 100)
        // "é" is 0xC3 0xA9: split across chunks, valid once joined.
        #expect(feed(&assembler, [0x61, 0xC3], first: true, final: false, binary: false, remaining: 1) == .partial)
        #expect(feed(&assembler, [0xA9], first: false, final: false, binary: false) == .partial)
        #expect(feed(&assembler, [0x62], first: false, final: true, binary: true) == .complete(.text("aéb")))
    }

    @Test func refusesAMessageWhoseAnnouncedLengthExceedsTheLimit() {
        var assembler = ReceiveAssembler(maxMessageSize: 10)
        #expect(feed(&assembler, [1, 2, 3], first: true, final: false, binary: true, remaining: 1000) == .tooBig(1003))
        #expect(feed(&assembler, Array(repeating: 0, count: 10), first: true, final: true, binary: true) == .complete(.binary(Array(repeating: 0, count: 10))))
        #expect(feed(&assembler, Array(repeating: 0, count: 6), first: true, final: false, binary: true) == .partial)
        #expect(feed(&assembler, Array(repeating: 0, count: 5), first: false, final: true, binary: true) == .tooBig(11))
    }

    @Test func rejectsInvalidUTF8InText() {
        var assembler = ReceiveAssembler(maxMessageSize: 100)
        #expect(feed(&assembler, [0x61, 0xC3], first: true, final: true, binary: false) == .invalidUTF8)
        #expect(feed(&assembler, [0xFF], first: true, final: true, binary: true) == .complete(.binary([0xFF])))
    }
}
