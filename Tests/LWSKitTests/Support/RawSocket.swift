import Foundation

/// A blocking TCP client on 127.0.0.1 for tests that must misbehave at the byte level. Its
/// socket is closed when it is dropped, if `close()` or `reset()` did not close it before.
/// One thread at a time uses it (handed from a test to a thread of its own, say).
final class RawSocket: @unchecked Sendable {
    private let fd: Int32
    private var isOpen = true

    /// Takes over a connected socket (one a test server accepted).
    init(descriptor: Int32) {
        fd = descriptor
    }

    /// Connects to 127.0.0.1:`port`, with a 10-second receive timeout, and with a kernel
    /// receive buffer of `receiveBuffer` bytes if given (a peer that never reads then holds
    /// little of what the server sends).
    init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            Glibc.close(fd)
            throw PeerError("raw connect to port \(port) failed: errno \(errno)")
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Writes all of `bytes`. A peer that closed makes it throw (never raise SIGPIPE).
    func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw PeerError("raw write failed: errno \(errno)") }
            offset += written
        }
    }

    /// Reads until `isEnough` says what arrived is enough, the peer ends the connection, or
    /// `deadline` passes; returns what was read and whether the connection ended.
    func read(until deadline: ContinuousClock.Instant, isEnough: ([UInt8]) -> Bool) -> (bytes: [UInt8], ended: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline, !isEnough(received) {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 100) > 0 else { continue }
            let count = Glibc.read(fd, &buffer, buffer.count)
            if count <= 0 { return (received, true) }
            received += buffer[..<count]
        }
        return (received, false)
    }

    /// Reads until the peer ends the connection or `deadline` passes; returns what was read.
    func readToEnd(until deadline: ContinuousClock.Instant) -> (bytes: [UInt8], ended: Bool) {
        read(until: deadline) { _ in false }
    }

    /// Reads until `terminator` has arrived (or the peer closes) and returns what was read.
    func read(until terminator: String) throws -> String {
        var received: [UInt8] = []
        var byte: UInt8 = 0
        while !String(decoding: received, as: UTF8.self).hasSuffix(terminator) {
            guard Glibc.read(fd, &byte, 1) == 1 else { break }
            received.append(byte)
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// A client's opening handshake; a nil `key` or `version` leaves that header out.
    static func upgradeRequest(
        subprotocol: String = "daniel", key: String? = "dGhlIHNhbXBsZSBub25jZQ==", version: String? = "13", extraHeaders: String = ""
    ) -> [UInt8] {
        var request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        if let key { request += "Sec-WebSocket-Key: \(key)\r\n" }
        if let version { request += "Sec-WebSocket-Version: \(version)\r\n" }
        request += "Sec-WebSocket-Protocol: \(subprotocol)\r\n" + extraHeaders + "\r\n"
        return Array(request.utf8)
    }

    /// An opening handshake for `target` (path and query) with `Host: 127.0.0.1:<port>`, the
    /// subprotocol `subprotocol` unless nil, and `extraHeaders` (CRLF-terminated lines).
    static func upgradeRequest(port: Int, target: String, subprotocol: String?, extraHeaders: String = "") -> [UInt8] {
        var request = "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let subprotocol { request += "Sec-WebSocket-Protocol: \(subprotocol)\r\n" }
        return Array((request + extraHeaders + "\r\n").utf8)
    }

    /// Sends `request` (an opening handshake) on a new connection to `port` and returns the
    /// answer: the head of a 101 (the connection stays open), or the whole of a refusal (the
    /// server closes it). Off the task pool: it blocks.
    static func upgradeAnswer(port: Int, _ request: [UInt8]) async throws -> String {
        try await offThePool {
            let raw = try RawSocket(port: port)
            try raw.write(request)
            let (bytes, _) = raw.read(until: .now + .seconds(5)) { bytes in
                let text = String(decoding: bytes, as: UTF8.self)
                return text.hasPrefix("HTTP/1.1 101 ") && text.contains("\r\n\r\n")
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Sends an opening handshake for `subprotocol` and returns the server's response head.
    func handshake(subprotocol: String = "daniel") throws -> String {
        try write(Self.upgradeRequest(subprotocol: subprotocol))
        return try read(until: "\r\n\r\n")
    }

    /// Writes `frame` again and again without reading, until `total` bytes went out or
    /// `deadline` passed, and returns how many bytes the peer accepted. A peer that stops
    /// reading makes this return early with less than `total`.
    func offer(_ frame: [UInt8], total: Int, until deadline: ContinuousClock.Instant) -> Int {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        var sent = 0, offset = 0
        while sent < total, ContinuousClock.now < deadline {
            var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&ready, 1, 50) > 0 else { continue }
            let written = frame[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard written > 0 else { if errno == EAGAIN { continue } else { break } }
            sent += written
            offset = (offset + written) % frame.count
        }
        return sent
    }

    /// A masked client frame carrying `payload` with `opcode` (2: binary; higher bits set the
    /// RSV bits), FIN set unless `fin` is false.
    static func maskedFrame(opcode: UInt8 = 2, payload: [UInt8], fin: Bool = true) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        switch payload.count {
        case ..<126: frame.append(0x80 | UInt8(payload.count))
        case ..<65536: frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        default: frame += [0x80 | 127] + (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> ($0 * 8)) }
        }
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        frame += mask
        frame.reserveCapacity(frame.count + payload.count)
        var index = 0
        while index < payload.count {
            frame.append(payload[index] ^ mask[index & 3])
            index += 1
        }
        return frame
    }

    /// Reads until the server closes the connection (true) or `deadline` passes.
    func waitForEndOfStream(until deadline: ContinuousClock.Instant) -> Bool {
        readToEnd(until: deadline).ended
    }

    /// Reads the server's frames until its close frame (or the end of the stream, or
    /// `deadline`) and returns them.
    func readFramesUntilClose(until deadline: ContinuousClock.Instant) -> [(head: UInt8, payload: [UInt8])] {
        Self.serverFrames(read(until: deadline) { Self.closeFrame(in: $0) != nil }.bytes)
    }

    /// How a server ended a conversation the test broke.
    enum Ending: Equatable, CustomStringConvertible {
        /// A close frame with this code (nil: no code).
        case closeFrame(UInt16?)
        /// The connection ended (FIN or reset) without a close frame.
        case dropped
        /// Neither happened before the deadline.
        case stillOpen

        var description: String {
            switch self {
            case .closeFrame(let code): "close frame \(code.map(String.init) ?? "without a code")"
            case .dropped: "connection dropped"
            case .stillOpen: "still open"
            }
        }
    }

    /// Reads until the server sends a close frame or ends the connection, or `deadline` passes.
    /// Data frames before it are skipped.
    func ending(until deadline: ContinuousClock.Instant) -> Ending {
        let (bytes, ended) = read(until: deadline) { Self.closeFrame(in: $0) != nil }
        if let close = Self.closeFrame(in: bytes) {
            return .closeFrame(close.payload.count >= 2 ? UInt16(close.payload[0]) << 8 | UInt16(close.payload[1]) : nil)
        }
        return ended ? .dropped : .stillOpen
    }

    /// The first complete close frame among the server frames in `bytes`.
    private static func closeFrame(in bytes: [UInt8]) -> (head: UInt8, payload: [UInt8])? {
        serverFrames(bytes).first { $0.head & 0x0F == 0x8 }
    }

    /// Splits the unmasked frames a server sent into (first byte, payload) pairs; a truncated
    /// last frame is left out.
    static func serverFrames(_ bytes: [UInt8]) -> [(head: UInt8, payload: [UInt8])] {
        var frames: [(head: UInt8, payload: [UInt8])] = []
        var index = 0
        while index + 2 <= bytes.count {
            var length = Int(bytes[index + 1] & 0x7F)
            var start = index + 2
            if length == 126, start + 2 <= bytes.count {
                length = Int(bytes[start]) << 8 | Int(bytes[start + 1])
                start += 2
            } else if length == 127, start + 8 <= bytes.count {
                length = bytes[start..<start + 8].reduce(0) { $0 << 8 | Int($1) }
                start += 8
            }
            guard start + length <= bytes.count else { break }
            frames.append((bytes[index], Array(bytes[start..<start + length])))
            index = start + length
        }
        return frames
    }

    /// Closes the socket normally (FIN).
    func close() {
        guard isOpen else { return }
        isOpen = false
        Glibc.close(fd)
    }

    deinit { close() }

    /// Closes the socket at once with a TCP reset (SO_LINGER 0): no close frame, no FIN.
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }
}

/// Runs blocking socket work on a thread of its own. Swift concurrency's pool has one thread
/// per core (two here): tests that block them starve every other test's awaits, timeouts
/// included (under ThreadSanitizer, tshark-reading tests ran into their time limit that way).
func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try work() }) }.start()
    }
}
