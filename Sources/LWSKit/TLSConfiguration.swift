#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where PEM-encoded certificates or a key come from: a file, or text already in memory.
public enum PEMSource: Sendable, Hashable {
    /// A PEM file on disk, read when the server or client starts; it must be readable when
    /// the server or client is made.
    case file(String)
    /// PEM text ("-----BEGIN CERTIFICATE-----…").
    case pem(String)

    func validate(_ what: String) throws {
        switch self {
        case .file(let path):
            guard !path.isEmpty, !path.utf8.contains(0) else {
                throw LWSError.invalidConfiguration("\(what): the file path is empty or contains NUL")
            }
            // Checked here: lws would report a CA file it cannot read only at the first
            // connection, as a certificate that does not verify.
            if let problem = unreadableFileProblem(path) {
                throw LWSError.invalidConfiguration("\(what): cannot read '\(path)': \(problem)")
            }
        case .pem(let text):
            guard text.contains("-----BEGIN ") else {
                throw LWSError.invalidConfiguration("\(what): the text is not PEM (no -----BEGIN line)")
            }
        }
    }
}

/// TLS for a server: its certificate chain and key, optionally client-certificate checks and
/// HTTP/2.
///
/// A server with TLS serves `wss://` and `https://` on its port, over HTTP/1.1 unless `http2`
/// is set.
public struct TLSServerConfiguration: Sendable, Hashable {
    /// The server's certificate, followed by any intermediates, PEM.
    public var certificateChain: PEMSource
    /// The private key of the certificate, PEM (unencrypted).
    public var privateKey: PEMSource
    /// When set, every client must present a certificate issued by one of these CAs; clients
    /// without one are refused during the TLS handshake. Default nil: no client certificates.
    public var clientCertificateAuthority: PEMSource?
    /// Offer HTTP/2 (ALPN "h2") to clients besides HTTP/1.1, for `https://` and for WebSockets
    /// over HTTP/2 streams (RFC 8441). Default false: ALPN offers only "http/1.1".
    ///
    /// libwebsockets 4.1.6's HTTP/2 has defects LWSKit cannot mend from outside (README, "Known
    /// limits"): request bodies over about 256 KiB stall, WebSocket streams stall after ~15 MB,
    /// a peer can make it queue unbounded PING and SETTINGS acknowledgements and accept endless
    /// CONTINUATION frames. Turn it on only behind a proxy that speaks HTTP/2 for you, or for
    /// small requests from trusted clients. (HTTP/2 over plain TCP, "h2c", is never offered.)
    public var http2: Bool

    /// Creates a server TLS configuration.
    /// - Parameters:
    ///   - certificateChain: The certificate chain (leaf first), PEM.
    ///   - privateKey: The leaf's private key, PEM.
    ///   - clientCertificateAuthority: CA certificates that client certificates must chain to,
    ///     or nil (the default) to ask clients for no certificate.
    ///   - http2: Offer HTTP/2 through ALPN. Default false (HTTP/1.1 only); see `http2`.
    public init(
        certificateChain: PEMSource, privateKey: PEMSource, clientCertificateAuthority: PEMSource? = nil, http2: Bool = false
    ) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
        self.clientCertificateAuthority = clientCertificateAuthority
        self.http2 = http2
    }

    func validate() throws {
        try certificateChain.validate("TLS certificate chain")
        try privateKey.validate("TLS private key")
        try clientCertificateAuthority?.validate("TLS client certificate authority")
    }
}

/// TLS for a client: which servers it trusts and, optionally, the certificate it presents.
///
/// Verification is on by default: the server's chain must lead to a trusted root and its
/// certificate must name the host of the URL. The two opt-outs exist for tests and labs.
public struct TLSClientConfiguration: Sendable, Hashable {
    /// The CA certificates to trust, PEM, instead of the system's store; nil (the default)
    /// trusts the system's store.
    public var trustRoots: PEMSource?
    /// A client certificate to present when the server asks for one. Default nil.
    public var certificate: PEMSource?
    /// The private key of `certificate`. Default nil.
    public var privateKey: PEMSource?
    /// Accept a server whose certificate is self-signed (its own issuer). Default false.
    public var allowSelfSigned: Bool
    /// Accept a server certificate that does not name the URL's host. Default false.
    public var skipHostnameCheck: Bool

    /// Creates a client TLS configuration.
    /// - Parameters:
    ///   - trustRoots: CA certificates to trust instead of the system's store; nil (the
    ///     default) for the system's store.
    ///   - certificate: A client certificate, when servers require one.
    ///   - privateKey: The key of `certificate`.
    ///   - allowSelfSigned: Accept self-signed server certificates. Default false.
    ///   - skipHostnameCheck: Accept a certificate for another host name. Default false.
    public init(
        trustRoots: PEMSource? = nil, certificate: PEMSource? = nil, privateKey: PEMSource? = nil,
        allowSelfSigned: Bool = false, skipHostnameCheck: Bool = false
    ) {
        self.trustRoots = trustRoots
        self.certificate = certificate
        self.privateKey = privateKey
        self.allowSelfSigned = allowSelfSigned
        self.skipHostnameCheck = skipHostnameCheck
    }

    func validate() throws {
        try trustRoots?.validate("TLS trust roots")
        try certificate?.validate("TLS client certificate")
        try privateKey?.validate("TLS client private key")
        if (certificate == nil) != (privateKey == nil) {
            throw LWSError.invalidConfiguration("a TLS client certificate needs its private key, and a key its certificate")
        }
    }
}


/// Why the file at `path` cannot be read (the system's words), or nil when it can.
func unreadableFileProblem(_ path: String) -> String? {
    access(path, R_OK) == 0 ? nil : String(cString: strerror(errno))
}
