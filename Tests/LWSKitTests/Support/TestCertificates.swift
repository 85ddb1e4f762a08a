import Foundation

/// Certificates generated with the openssl command once per test process, in a temporary
/// directory: a CA, a leaf it signed for localhost and 127.0.0.1, a self-signed leaf, an
/// expired leaf and a leaf for another host name (both signed by the CA).
struct TestCertificates: Sendable {
    /// A certificate file and its key file.
    struct Pair: Sendable {
        let certificate: String
        let key: String
    }

    let directory: String
    /// The CA certificate (PEM file) that signed `leaf`, `expired` and `wrongName`.
    let ca: String
    /// SAN localhost and 127.0.0.1, valid for 30 days.
    let leaf: Pair
    /// Its own issuer; SAN localhost and 127.0.0.1.
    let selfSigned: Pair
    /// Expired yesterday.
    let expired: Pair
    /// SAN other.example only.
    let wrongName: Pair

    /// The process-wide set, generated on first use.
    static func shared() throws -> TestCertificates { try generated.get() }

    private static let generated = Result { try TestCertificates() }

    private init() throws {
        let directory = NSTemporaryDirectory() + "lwskit-certs-\(getpid())"
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = { (name: String) in "\(directory)/\(name)" }
        ca = file("ca.pem")
        try Self.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file("ca.key"), "-out", ca,
                          "-days", "30", "-subj", "/CN=LWSKit Test CA",
                          "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        let localNames = "subjectAltName=DNS:localhost,IP:127.0.0.1"
        leaf = try Self.signed(name: "leaf", san: localNames, days: 30, in: directory)
        expired = try Self.signed(name: "expired", san: localNames, days: -1, in: directory)
        wrongName = try Self.signed(name: "wrong-name", san: "subjectAltName=DNS:other.example", days: 30, in: directory)
        selfSigned = Pair(certificate: file("self-signed.pem"), key: file("self-signed.key"))
        try Self.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", selfSigned.key,
                          "-out", selfSigned.certificate, "-days", "30", "-subj", "/CN=localhost", "-addext", localNames])
    }

    /// A leaf signed by the CA in `directory`.
    private static func signed(name: String, san: String, days: Int, in directory: String) throws -> Pair {
        let base = "\(directory)/\(name)"
        try "\(san)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n"
            .write(toFile: base + ".ext", atomically: true, encoding: .utf8)
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=\(name)"])
        try openssl(["x509", "-req", "-in", base + ".csr", "-CA", "\(directory)/ca.pem", "-CAkey", "\(directory)/ca.key",
                     "-CAcreateserial", "-out", base + ".pem", "-days", "\(days)", "-extfile", base + ".ext"])
        return Pair(certificate: base + ".pem", key: base + ".key")
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = try PeerProcess("/usr/bin/openssl", arguments)
        while process.isRunning { usleep(1000) }  // (once per test process, off the task pool's hot path)
        guard process.exitStatus == 0 else {
            throw PeerError("openssl \(arguments.prefix(2).joined(separator: " ")): \(process.standardError)")
        }
    }
}
