import Foundation
import Testing
@testable import LWSKit

/// A server listens exactly where it was asked, or does not start (issue 13, first finding):
/// lws 4.1.6 given "127.0.0.1" listened on every interface.
@Suite("Listen address", .timeLimit(.minutes(2)))
struct ListenAddressTests {
    @Test func hostsResolveToOneAddressOfThisMachine() throws {
        #expect(try ListenAddress.resolve(nil, port: 1) == .any)
        #expect(try ListenAddress.resolve("127.0.0.1", port: 1) == .ipv4("127.0.0.1"))
        #expect(try ListenAddress.resolve("[::1]", port: 1) == .ipv6("::1"))
        #expect(try ListenAddress.resolve("::1", port: 1) == .ipv6("::1"))
        #expect(try ListenAddress.resolve("lo", port: 1) == .ipv4("127.0.0.1"))
        #expect(try ListenAddress.resolve("localhost", port: 1) == .ipv4("127.0.0.1"))
    }

    @Test(arguments: [("192.0.2.1", "192.0.2.1 is not an address of this machine"), ("nosuchhost.invalid", "neither an address")])
    func hostsThatAreNotOursFailWithTheirName(host: String, reason: String) {
        #expect {
            try ListenAddress.resolve(host, port: 8080)
        } throws: { error in
            guard case LWSError.listenFailed(let failedHost, 8080, let message) = error else { return false }
            return failedHost == host && message.contains(reason)
        }
    }

    /// simple-server with `--host`: what /proc/net/tcp and tcp6 list as listening on its port.
    @Test(arguments: [("127.0.0.1", ["127.0.0.1"]), ("::1", ["::1"]), ("localhost", ["127.0.0.1"]), ("lo", ["127.0.0.1"])])
    func simpleServerListensOnlyWhereAsked(host: String, expected: [String]) async throws {
        let server = try PeerProcess(try Peers.executable("simple-server"), ["--port", "0", "--host", host])
        defer { server.send(signal: SIGKILL) }
        let port = Int(try await server.waitForOutput(/listening on [^\n]*:(\d+)/))!
        let listening = try listeningAddresses(port: port, of: server.pid)
        #expect(listening == expected, "\(listening)")
    }

    @Test(arguments: ["192.0.2.1", "nosuchhost.invalid"])
    func simpleServerRefusesAHostThatIsNotOurs(host: String) async throws {
        let server = try PeerProcess(try Peers.executable("simple-server"), ["--port", "0", "--host", host])
        #expect(try await server.waitForExit(timeout: .seconds(20)) != 0)
        #expect(server.standardError.contains("cannot listen on \(host):"), "\(server.standardError)")
        #expect(!server.standardOutput.contains("listening"))
    }

    /// The local addresses process `pid` listens on at `port`, from /proc/net/tcp and
    /// /proc/net/tcp6 ("0.0.0.0" and "::" mean every interface). Only its own sockets count:
    /// another test's server may have the same port number in the other address family.
    private func listeningAddresses(port: Int, of pid: Int32) throws -> [String] {
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
        let inodes = Set(descriptors.compactMap { descriptor -> Substring? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)"),
                  target.hasPrefix("socket:[") else { return nil }
            return Substring(target.dropFirst("socket:[".count).dropLast())
        })
        var found: [String] = []
        for (file, family) in [("/proc/net/tcp", AF_INET), ("/proc/net/tcp6", AF_INET6)] {
            // /proc files have no size: read them to their end, not to a length stat gives.
            guard let handle = FileHandle(forReadingAtPath: file) else { throw PeerError("cannot open \(file)") }
            defer { try? handle.close() }
            let table = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
            for line in table.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "0A", inodes.contains(fields[9]) else { continue }
                let local = fields[1].split(separator: ":")
                guard Int(local[1], radix: 16) == port else { continue }
                found.append(decode(String(local[0]), family: family))
            }
        }
        return found
    }

    /// /proc/net prints addresses as 32-bit words in host (little-endian) order.
    private func decode(_ hex: String, family: Int32) -> String {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 8)
            let word = UInt32(hex[index..<next], radix: 16)!
            bytes += withUnsafeBytes(of: word.littleEndian) { Array($0) }
            index = next
        }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = inet_ntop(family, bytes, &text, socklen_t(text.count))
        return String(cString: text)
    }
}
