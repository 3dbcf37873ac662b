import BuiltinPlugins
import Foundation
import Glibc
import Testing
import WrapperCore
@testable import DriverDialects

/// A database server the tests talk to, found through the variables `scripts/db-servers.sh env` prints.
enum Backend: String, CaseIterable, CustomStringConvertible, Sendable {
    case postgres
    case mariadb

    var description: String { rawValue }

    private var prefix: String { self == .postgres ? "WRAPPER_PG" : "WRAPPER_MYSQL" }

    private func env(_ name: String, _ fallback: String) -> String {
        ProcessInfo.processInfo.environment["\(prefix)_\(name)"] ?? fallback
    }

    var host: String { env("HOST", "127.0.0.1") }
    var port: Int { Int(env("PORT", self == .postgres ? "55432" : "53306")) ?? 0 }
    var user: String { env("USER", "wrapper") }
    var password: String { env("PASSWORD", "wrapper_pw") }
    var database: String { env("DATABASE", "wrapper_test") }
    var tlsCA: String { ProcessInfo.processInfo.environment["WRAPPER_TLS_CA"] ?? "/tmp/swift-wrapper-dbs/tls/ca.crt" }

    var driver: any DriverDialect { self == .postgres ? PostgresDriver() : MariaDBDriver() }
    var scheme: String { self == .postgres ? "postgresql" : "mysql" }

    /// A URL for the test server; `extra` is appended as query parameters.
    func url(_ extra: String = "plugins=", password: String? = nil, port: Int? = nil) -> String {
        let secret = (password ?? self.password).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return "\(scheme)://\(user):\(secret)@\(host):\(port ?? self.port)/\(database)?\(extra)"
    }

    func open(_ extra: String = "plugins=", registry: PluginRegistry = .default) throws -> WrapperConnection {
        try WrapperConnection.open(url(extra), driver: driver, registry: registry)
    }

    /// SQL that sleeps for `seconds`.
    func sleep(_ seconds: Int) -> SQLQuery {
        self == .postgres ? "SELECT pg_sleep(\(seconds))" : "SELECT SLEEP(\(seconds))"
    }

    /// A placeholder for parameter `index`.
    func placeholder(_ index: Int) -> String { driver.bindPlaceholder(at: index) }

    /// A table name unique to one test, so tests can run in parallel.
    func table(_ name: String) -> String { "t_\(name)_\(UInt32.random(in: 0...UInt32.max))" }
}

/// A TCP listener that accepts connections and never answers: a host that hangs.
final class SilentListener: @unchecked Sendable {
    let port: Int
    private let socketFD: Int32

    init() throws {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.socketFD = socketFD
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, length) }
        }
        guard bound == 0, listen(socketFD, 16) == 0 else {
            self.port = 0
            throw WrapperError(.internalError, "listener setup failed")
        }
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(socketFD, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until a client's connection is pending (the kernel completed its handshake), so a test
    /// knows the client is inside its connect; `false` after `timeout`.
    func waitForClient(timeout: Duration = .seconds(10)) -> Bool {
        var descriptor = pollfd(fd: socketFD, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, Int32(timeout.components.seconds * 1000)) > 0
    }

    /// ``waitForClient(timeout:)`` on a thread of its own: an async test must not block the
    /// concurrency pool that the client under test needs.
    func clientArrived(timeout: Duration = .seconds(10)) async -> Bool {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: self.waitForClient(timeout: timeout)) }
        }
    }

    deinit { close(socketFD) }
}

/// A port nothing listens on.
func refusedPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
