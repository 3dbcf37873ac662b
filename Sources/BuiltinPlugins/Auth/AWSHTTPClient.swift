import Dispatch
import Foundation
import WrapperCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An HTTP answer from an AWS endpoint.
struct AWSHTTPResponse: Sendable {
    var status: Int
    var body: Data

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// Blocking HTTP for the credential chain and the AWS clients, on Foundation's URLSession.
///
/// Plugins run on the connection's own (blocking) thread, so requests are sent and waited for
/// there; URLSession does the protocol work. Every request has a deadline.
struct AWSHTTPClient: Sendable {
    /// How long a request may take, connect included.
    var timeout: Duration

    init(timeout: Duration = .seconds(5)) { self.timeout = timeout }

    func send(
        _ method: String, _ url: URL, headers: [String: String] = [:], body: Data? = nil, timeout: Duration? = nil
    ) throws -> AWSHTTPResponse {
        let limit = timeout ?? self.timeout
        let seconds = limit.timeInterval
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: seconds)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let outcome = LockedValue<Result<AWSHTTPResponse, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = Self.session.dataTask(with: request) { data, response, error in
            let result: Result<AWSHTTPResponse, any Error>
            if let error {
                result = .failure(error)
            } else if let http = response as? HTTPURLResponse {
                result = .success(AWSHTTPResponse(status: http.statusCode, body: data ?? Data()))
            } else {
                result = .failure(URLError(.badServerResponse))
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        task.resume()
        // URLSession enforces the timeout; the extra second only guards against a lost callback.
        if done.wait(timeout: .now() + seconds + 1) == .timedOut {
            task.cancel()
            throw Self.unreachable(url, "no answer within \(seconds) s")
        }
        switch outcome.withLock({ $0 }) {
        case .success(let response): return response
        case .failure(let error): throw Self.unreachable(url, (error as? URLError).map { "\($0.code)" } ?? "\(type(of: error))")
        case nil: throw Self.unreachable(url, "no answer")
        }
    }

    /// The endpoint without its query, which may carry credentials.
    static func redacted(_ url: URL) -> String {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        components?.query = nil
        components?.user = nil
        components?.password = nil
        return components?.string ?? "the endpoint"
    }

    private static func unreachable(_ url: URL, _ reason: String) -> AWSAuthError {
        AWSAuthError(
            .endpointUnreachable,
            "Could not reach \(redacted(url)) (\(reason)). Check the endpoint override, the network, and that the service runs.")
    }

    private static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        configuration.httpCookieStorage = nil
        return URLSession(configuration: configuration)
    }()
}
