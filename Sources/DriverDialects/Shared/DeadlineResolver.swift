import Foundation
import Glibc
import WrapperCore

/// Resolves host names under a connect's deadline.
///
/// `getaddrinfo` blocks and cannot be cancelled, so the C libraries' own lookups sit outside any
/// deadline. Here a lookup runs on a thread of its own and the connect waits for it only until its
/// deadline; a lookup that outlives it ends on its own within the system resolver's timeouts
/// (`/etc/resolv.conf`). At most ``maxLookups`` run at once, so a DNS outage cannot pile up threads:
/// past that, connects fail at once with a timeout.
enum DeadlineResolver {
    /// The most lookups running at once.
    static let maxLookups = 32
    private static let running = LockedValue(0)

    private final class Lookup: Sendable {
        let done = DispatchSemaphore(value: 0)
        let result = LockedValue<Result<[String], WrapperError>?>(nil)
    }

    /// The addresses of `host` (at most eight, in the resolver's order), or `nil` for an address
    /// (it needs no lookup).
    ///
    /// - Throws: ``WrapperError/Code/timeout`` when the lookup outlives `deadline` or too many
    ///   lookups hang; ``WrapperError/Code/network`` when the name does not resolve.
    static func addresses(of host: String, until deadline: ContinuousClock.Instant?) throws -> [String]? {
        guard !RdsURL.isIPAddress(host), !host.hasPrefix("/") else { return nil }
        if let deadline, deadline <= .now { throw WrapperError(.timeout, "Resolving \(host) timed out before it started. Raise connect_timeout.") }
        let admitted = running.withLock { count -> Bool in
            guard count < maxLookups else { return false }
            count += 1
            return true
        }
        guard admitted else {
            throw WrapperError(.timeout, "Resolving \(host) did not start: \(maxLookups) name lookups are already hanging; check DNS.")
        }
        let lookup = Lookup()
        let thread = Thread {
            defer { running.withLock { $0 -= 1 } }
            lookup.result.withLock { $0 = resolve(host) }
            lookup.done.signal()
        }
        thread.name = "wrapper-resolve"
        thread.start()
        let waited: DispatchTimeoutResult
        if let deadline {
            let remaining = max(.zero, deadline - .now)
            waited = lookup.done.wait(timeout: .now() + remaining.timeInterval)
        } else {
            lookup.done.wait()
            waited = .success
        }
        guard waited == .success, let result = lookup.result.withLock({ $0 }) else {
            throw WrapperError(.timeout, "Resolving \(host) timed out. Raise connect_timeout or check DNS.")
        }
        return try result.get()
    }

    private static func resolve(_ host: String) -> Result<[String], WrapperError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard status == 0, list != nil else {
            return .failure(WrapperError(.network, "Could not resolve \(host): \(String(cString: gai_strerror(status)))."))
        }
        var addresses: [String] = []
        var entry = list
        while let current = entry, addresses.count < 8 {
            defer { entry = current.pointee.ai_next }
            guard let address = current.pointee.ai_addr else { continue }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            let written: UnsafePointer<CChar>? = switch Int32(current.pointee.ai_family) {
            case AF_INET:
                address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    var raw = pointer.pointee.sin_addr
                    return inet_ntop(AF_INET, &raw, &buffer, socklen_t(buffer.count))
                }
            case AF_INET6:
                address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    var raw = pointer.pointee.sin6_addr
                    return inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count))
                }
            default: nil
            }
            guard written != nil else { continue }
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !addresses.contains(text) { addresses.append(text) }
        }
        guard !addresses.isEmpty else { return .failure(WrapperError(.network, "\(host) resolved to no usable address.")) }
        return .success(addresses)
    }
}
