import BuiltinPlugins
import Foundation
import Glibc
import Testing
import WrapperCore
@testable import DriverDialects

@Suite("Connect deadlines")
struct ConnectDeadlineTests {
    func url(_ backend: Backend, port: Int, _ extra: String) -> String { backend.url("plugins=" + extra, port: port) }

    @Test("a silent server fails the open at connect_timeout, for both drivers, fractions included", arguments: Backend.allCases)
    func explicitDeadline(backend: Backend) throws {
        let listener = try SilentListener()
        let start = ContinuousClock.now
        let error = try #require(throws: WrapperError.self) {
            try WrapperConnection.open(url(backend, port: listener.port, "&connect_timeout=0.5"), driver: backend.driver, registry: .default)
        }
        let elapsed = ContinuousClock.now - start
        #expect(error.code == .timeout, "\(error)")
        #expect(elapsed >= .milliseconds(450), "\(elapsed)")
        #expect(elapsed < .seconds(5), "\(elapsed)")
        #expect(!error.description.contains(backend.password))
    }

    @Test("without connect_timeout the open still ends, at the 10 s default", arguments: Backend.allCases)
    func defaultDeadline(backend: Backend) throws {
        let listener = try SilentListener()
        let start = ContinuousClock.now
        let error = try #require(throws: WrapperError.self) {
            try WrapperConnection.open(url(backend, port: listener.port, ""), driver: backend.driver, registry: .default)
        }
        let elapsed = ContinuousClock.now - start
        #expect(error.code == .timeout, "\(error)")
        #expect(elapsed >= .seconds(WrapperProperties.defaultConnectTimeout) - .milliseconds(100), "\(elapsed)")
        #expect(elapsed < .seconds(WrapperProperties.defaultConnectTimeout + 10), "\(elapsed)")
    }
}

@Suite("Name resolution under the connect deadline")
struct DeadlineResolverTests {
    @Test("names resolve, addresses need no lookup, unknown names are network errors")
    func resolves() throws {
        let local = try #require(try DeadlineResolver.addresses(of: "localhost", until: .now + .seconds(5)))
        #expect(!local.isEmpty && local.allSatisfy { $0 == "127.0.0.1" || $0 == "::1" }, "\(local)")
        #expect(try DeadlineResolver.addresses(of: "127.0.0.1", until: .now + .seconds(5)) == nil)
        let unknown = try #require(throws: WrapperError.self) {
            try DeadlineResolver.addresses(of: "no-such-host.invalid", until: .now + .seconds(10))
        }
        #expect(unknown.code == .network)
    }

    @Test("a lookup that outlives the deadline is a timeout")
    func deadline() throws {
        let error = try #require(throws: WrapperError.self) {
            try DeadlineResolver.addresses(of: "localhost", until: .now - .seconds(1))
        }
        #expect(error.code == .timeout)
    }
}

@Suite("Async opens")
struct AsyncOpenTests {
    @Test("an async open to a silent server is cancelled by task cancellation, long before its deadline", .timeLimit(.minutes(3)), arguments: Backend.allCases)
    func cancelled(backend: Backend) async throws {
        let listener = try SilentListener()
        let start = ContinuousClock.now
        let task = Task {
            try await WrapperConnection.async.open(
                backend.url("plugins=&connect_timeout=120", port: listener.port), driver: backend.driver, registry: .default)
        }
        // Cancelled once the client is inside its connect, not before it started. Generous: the
        // other suites' blocking tests may hold the concurrency pool the task needs to start.
        #expect(await listener.clientArrived(timeout: .seconds(60)))
        task.cancel()
        let result = await task.result
        // Well before the 120 s connect deadline, with room for a loaded machine.
        #expect(ContinuousClock.now - start < .seconds(90))
        guard case .failure(let error) = result else {
            Issue.record("the open succeeded")
            return
        }
        #expect(error is CancellationError, "\(error)")
    }

    @Test("without connect_timeout an async open to a silent server ends at the default deadline", arguments: Backend.allCases)
    func defaultDeadline(backend: Backend) async throws {
        let listener = try SilentListener()
        let error = await #expect(throws: WrapperError.self) {
            try await WrapperConnection.async.open(backend.url("plugins=", port: listener.port), driver: backend.driver, registry: .default)
        }
        #expect(error?.code == .timeout)
    }
}
