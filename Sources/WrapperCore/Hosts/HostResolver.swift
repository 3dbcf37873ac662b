import Foundation
import Glibc

/// Turns host names into addresses. The wrapper resolves and compares addresses only through a
/// resolver, so RDS-shaped names can be exercised without touching the system's DNS.
public protocol HostResolver: Sendable {
    /// The addresses of `host`, best first; empty when the name is unknown.
    func addresses(of host: String) -> [String]
    /// The address this resolver maps `host` to in place of the system's DNS, if it does; the
    /// drivers then connect to that address (keeping the name for TLS).
    func overriddenAddress(of host: String) -> String?
}

extension HostResolver {
    /// No override: drivers resolve names themselves.
    public func overriddenAddress(of host: String) -> String? { nil }

    /// The first address of `host`, or `host` itself when it does not resolve.
    public func address(of host: String) -> String { addresses(of: host).first ?? host }
}

/// The system's resolver (`getaddrinfo`).
public struct SystemResolver: HostResolver {
    /// Creates the resolver.
    public init() {}

    public func addresses(of host: String) -> [String] {
        if RdsURL.isIPAddress(host) { return [host] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var result: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(current.pointee.ai_addr, current.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                let address = String(cString: buffer)
                if !result.contains(address) { result.append(address) }
            }
            entry = current.pointee.ai_next
        }
        return result
    }
}

/// Names from a hosts-style file (`name address` per line, `#` comments), re-read when the file
/// changes; other names go to `fallback`. The cluster lab writes such a file, moving the cluster
/// endpoint to a new writer only after a DNS lag, as Aurora's DNS does.
public final class FileResolver: HostResolver, @unchecked Sendable {
    /// The file.
    public let path: String
    private let fallback: (any HostResolver)?
    // Guarded by `cache`.
    private let cache = LockedValue<(modified: Date?, size: Int, names: [String: [String]])>((nil, -1, [:]))

    /// Creates a resolver over the file at `path`.
    public init(path: String, fallback: (any HostResolver)? = SystemResolver()) {
        self.path = path
        self.fallback = fallback
    }

    public func addresses(of host: String) -> [String] {
        if let found = names()[host.lowercased()], !found.isEmpty { return found }
        return fallback?.addresses(of: host) ?? []
    }

    public func overriddenAddress(of host: String) -> String? {
        names()[host.lowercased()]?.first ?? fallback?.overriddenAddress(of: host)
    }

    private func names() -> [String: [String]] {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let modified = attributes?[.modificationDate] as? Date
        let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
        if let cached = cache.withLock({ cache in cache.modified == modified && cache.size == size ? cache.names : nil }) {
            return cached
        }
        // Read and parsed outside the lock: a slow file system holds up no other lookup.
        var names: [String: [String]] = [:]
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
                let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard fields.count >= 2 else { continue }
                // Accept both "name address" and the /etc/hosts order "address name...".
                if RdsURL.isIPAddress(String(fields[0])) {
                    for name in fields.dropFirst() { names[name.lowercased(), default: []].append(String(fields[0])) }
                } else {
                    names[fields[0].lowercased(), default: []].append(String(fields[1]))
                }
            }
        }
        cache.withLock { $0 = (modified, size, names) }
        return names
    }
}
