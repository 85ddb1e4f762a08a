import ArgumentParser
import Dispatch
import Logging
import LWSKit
import Synchronization

/// simple-client's HTTP mode: one GET (or POST) request; prints the body; exit 0 on 2xx.
struct HTTPRequestRun {
    let url: String
    /// The text to POST, or nil for a GET.
    let body: String?
    let contentType: String
    /// Sent with the request (--header).
    let headers: HTTPHeaders
    let tls: TLSClientConfiguration?
    let timeout: Double

    func run() throws {
        var logger = Logger(label: "simple-client")
        logger.logLevel = .critical  // failures are printed once, with their reason, below
        let outcome = Mutex<Result<HTTPResponse, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let client: HTTPClient
        do {
            let limit: Duration = timeout > 0 ? .milliseconds(Int(timeout * 1000)) : .seconds(3600)
            client = try HTTPClient(configuration: .init(tls: tls, timeout: limit), logger: logger)
        } catch {
            writeLine("simple-client: \(error)", to: 2)
            throw ExitCode.failure
        }
        let (url, body, headers) = (url, body, headers)
        var postHeaders = headers
        if postHeaders["content-type"] == nil { postHeaders.add(name: "content-type", value: contentType) }
        Task {
            let result: Result<HTTPResponse, Error>
            do {
                if let body {
                    result = .success(try await client.post(url, body: Array(body.utf8), headers: postHeaders))
                } else {
                    result = .success(try await client.get(url, headers: headers))
                }
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        client.syncShutdown()
        switch outcome.withLock({ $0! }) {
        case .failure(let error):
            writeLine("simple-client: \(error)", to: 2)
            throw ExitCode.failure
        case .success(let response):
            writeLine(response.text)
            guard (200..<300).contains(response.status) else {
                writeLine("simple-client: HTTP status \(response.status)", to: 2)
                throw ExitCode.failure
            }
        }
    }
}
