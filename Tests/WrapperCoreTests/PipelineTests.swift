import Dispatch
import Glibc
import InMemoryDriver
import Synchronization
import Testing
@testable import WrapperCore

@Suite("Pipelines")
struct PipelineTests {
    let trace = Trace()

    @Test("unsubscribed plugins are skipped, static and dynamic")
    func subscriptionSkipping() throws {
        let commitOnly = Recording(name: "commitOnly", trace: trace, subscribed: [.connectionCommit])
        let all = Recording(name: "all", trace: trace)
        let staticConnection = try openConnection(chain: PluginChain { commitOnly; all })
        let dynamic = DynamicPluginChain([commitOnly, all])
        let dynamicConnection = try openConnection(chain: PluginChain { dynamic })
        for connection in [staticConnection, dynamicConnection] {
            trace.reset()
            try connection.execute("SELECT 1")
            #expect(trace.all == ["all.before", "all.after"])
            trace.reset()
            try connection.commit()
            #expect(trace.all == ["commitOnly.before", "all.before", "all.after", "commitOnly.after"])
        }
        #expect(dynamic.pipeline(for: .cursorExecute).count == 1)
        #expect(dynamic.pipeline(for: .connectionCommit).count == 2)
    }

    @Test("a call nobody subscribes to skips the pipeline entirely")
    func pipelineSkipped() throws {
        struct CountingSubscriptions: Plugin {
            let trace: Trace
            var subscribedMethods: PluginMethods { [.connectionCommit] }
            func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
                trace.add("hook")
                return try next(call, service)
            }
        }
        let plugins = (0..<10).map { _ in CountingSubscriptions(trace: trace) as any Plugin }
        let dynamic = DynamicPluginChain(plugins)
        #expect(dynamic.pipeline(for: .cursorExecute).isEmpty)
        #expect(!dynamic.subscribedMethods.contains(.cursorExecute))
        let chain = PluginChain { dynamic }
        #expect(!chain.subscribedMethods.contains(.cursorExecute))
        let driver = InMemoryDriver()
        let connection = try openConnection(driver: driver, chain: chain)
        trace.reset()
        try connection.execute("SELECT 1")
        #expect(trace.all.isEmpty)
        try connection.commit()
        #expect(trace.all.count == 10)
    }

    @Test("execute results pass through and can be replaced")
    func executeResult() throws {
        struct Replacing: Plugin {
            var subscribedMethods: PluginMethods { [.cursorExecute] }
            func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
                if call.sql == "cached" { return .rows(QueryResult(columns: ["c"], rows: [[.text("hit")]])) }
                var rewritten = call
                rewritten.sql = call.sql + " -- tagged"
                return try next(rewritten, service)
            }
        }
        let seen = Trace()
        let driver = InMemoryDriver { sql, _, _ in
            seen.add(sql)
            return QueryResult(columns: ["x"], rows: [[.integer(7)]])
        }
        let connection = try openConnection(driver: driver, chain: PluginChain { Replacing() })
        #expect(try connection.execute("cached").rows == [[.text("hit")]])
        #expect(try connection.execute("SELECT 7").rows == [[.integer(7)]])
        #expect(seen.all == ["SELECT 7 -- tagged"])
    }

    @Test("connect, initHostProvider and notifications run in chain order at open")
    func openOrder() throws {
        let chain = PluginChain {
            Recording(name: "a", trace: trace)
            Recording(name: "b", trace: trace)
        }
        _ = try openConnection(chain: chain)
        #expect(trace.all == [
            "a.initHostProvider", "b.initHostProvider", "a.hostListChanged", "b.hostListChanged", "a.connect", "b.connect",
            "a.connectionChanged.initial", "b.connectionChanged.initial",
        ])
    }

    @Test("the last plugin to set a host list provider wins")
    func initHostProvider() throws {
        struct Provider: HostListProvider {
            let name: String
            func refresh(connection: (any DriverConnection)?, service: PluginService) throws -> [HostInfo] {
                [HostInfo(host: name, port: 1)]
            }
            func forceRefresh(connection: (any DriverConnection)?, service: PluginService) throws -> [HostInfo] {
                [HostInfo(host: name + "-forced", port: 1)]
            }
            var clusterID: String { name }
            var isStatic: Bool { false }
        }
        struct Installer: Plugin {
            let name: String
            var subscribedMethods: PluginMethods { [.initHostProvider] }
            func initHostProvider(_ properties: Properties, service: PluginService, next: InitHostProviderNext) throws {
                try next(service)
                service.hostListProvider = Provider(name: name)
            }
        }
        // The outer plugin runs its code after next, so it is the last to set the provider.
        let connection = try openConnection(chain: PluginChain { Installer(name: "outer"); Installer(name: "inner") })
        #expect(connection.service.hostListProvider?.clusterID == "outer")
        // The first connection goes to the host the user named; the provider supplies the host list.
        #expect(connection.currentHost?.host == "writer")
        #expect(connection.service.allHosts.map(\.host) == ["outer"])
        #expect(!connection.service.isStaticHostListProvider)
        try connection.service.forceRefreshHostList()
        #expect(connection.service.allHosts.map(\.host) == ["outer-forced"])
    }

    @Test("connection-changed suggestions merge through every chain form")
    func mergeThroughChains() throws {
        let preserve = Recording(name: "p", trace: trace, suggestion: .preserve)
        let dispose = Recording(name: "d", trace: trace, suggestion: .dispose)
        let none = Recording(name: "n", trace: trace)
        for chain in [
            AnyPlugin(PluginChain { preserve; dispose }), AnyPlugin(DynamicPluginChain([dispose, preserve])),
            AnyPlugin(PluginChain { for plugin in [none, dispose, preserve] { plugin } }),
        ] {
            let connection = try openConnection(chain: PluginChain { chain })
            #expect(chain.notifyConnectionChanged([.connectionObjectChanged], service: connection.service) == .preserve)
        }
        let disposing = try openConnection(chain: PluginChain { DynamicPluginChain([none, dispose]) })
        #expect(DynamicPluginChain([none, dispose]).notifyConnectionChanged([], service: disposing.service) == .dispose)
        #expect(DynamicPluginChain([none]).notifyConnectionChanged([], service: disposing.service) == .noOpinion)
    }

    @Test("connection-changed suggestions merge: preserve beats dispose beats no opinion")
    func mergeSuggestions() {
        #expect(OldConnectionSuggestedAction.noOpinion.merged(with: .dispose) == .dispose)
        #expect(OldConnectionSuggestedAction.dispose.merged(with: .preserve) == .preserve)
        #expect(OldConnectionSuggestedAction.preserve.merged(with: .noOpinion) == .preserve)
        #expect(OldConnectionSuggestedAction.noOpinion.merged(with: .noOpinion) == .noOpinion)
    }

    @Test("switching connections closes the old one unless a plugin preserves it")
    func oldConnectionHandling() throws {
        for suggestion in [OldConnectionSuggestedAction.noOpinion, .dispose, .preserve] {
            let driver = InMemoryDriver()
            let chain = PluginChain {
                Recording(name: "a", trace: trace, suggestion: .noOpinion)
                Recording(name: "b", trace: trace, suggestion: suggestion)
            }
            let connection = try openConnection(driver: driver, chain: chain)
            let old = try #require(driver.openedConnections.first)
            let reader = HostInfo(host: "reader1", port: 5432, role: .reader)
            let new = try connection.service.connect(to: reader)
            trace.reset()
            try connection.service.setCurrentConnection(new, host: reader)
            #expect(trace.all == ["a.connectionChanged.switch", "b.connectionChanged.switch"])
            #expect(old.isClosed == (suggestion != .preserve))
            #expect(connection.currentHost?.host == "reader1")
        }
    }

    @Test("session state is carried to the new connection and restored on the old one")
    func sessionTransfer() throws {
        let driver = InMemoryDriver()
        let connection = try openConnection(driver: driver, chain: PluginChain { Recording(name: "p", trace: trace) })
        try connection.setAutocommit(false)
        try connection.setReadOnly(true)
        try connection.setIsolationLevel(.serializable)
        try connection.setSchema("app")
        try connection.execute("SELECT 1")
        #expect(connection.isInTransaction)
        let old = try #require(driver.openedConnections.first)
        let reader = HostInfo(host: "reader1", port: 5432, role: .reader)
        let new = try connection.service.connect(to: reader)
        try connection.service.setCurrentConnection(new, host: reader)
        #expect(try connection.autocommit() == false)
        #expect(try connection.isReadOnly())
        #expect(try connection.isolationLevel() == .serializable)
        #expect(try connection.schema() == "app")
        // The old connection got its open transaction rolled back and its pristine state back, then was closed.
        #expect(!driver.isInTransaction(old))
        #expect(try driver.sessionValue(.autocommit, of: old) == .autocommit(true))
        #expect(try driver.sessionValue(.readOnly, of: old) == .readOnly(false))
        #expect(try driver.sessionValue(.isolation, of: old) == .isolation(.readCommitted))
        #expect(try driver.sessionValue(.schema, of: old) == .schema("public"))
        #expect(old.isClosed)
    }

    @Test("host list changes are announced as a diff")
    func hostListDiff() throws {
        final class Box: Sendable { let changes = LockedValue<[HostListChanges]>([]) }
        let box = Box()
        struct CaptureInBox: Plugin {
            let box: Box
            var subscribedMethods: PluginMethods { [.notifyHostListChanged] }
            func notifyHostListChanged(_ changes: HostListChanges, service: PluginService) {
                box.changes.withLock { $0.append(changes) }
            }
        }
        let connection = try openConnection(chain: PluginChain { CaptureInBox(box: box) })
        box.changes.withLock { $0.removeAll() }
        var hosts = connection.service.allHosts
        hosts[0].role = .reader
        hosts[1].role = .writer
        hosts.removeLast()
        hosts.append(HostInfo(host: "reader3", port: 5432, role: .reader))
        connection.service.updateHosts(hosts)
        let changes = try #require(box.changes.withLock { $0.first })
        #expect(changes["writer:5432/"] == [.convertedToReader, .hostChanged])
        #expect(changes["reader1:5432/"] == [.convertedToWriter, .hostChanged])
        #expect(changes["reader2:5432/"] == [.hostDeleted])
        #expect(changes["reader3:5432/"] == [.hostAdded])
        // The same list again changes nothing and notifies nobody.
        connection.service.updateHosts(hosts)
        #expect(box.changes.withLock { $0.count } == 1)
    }

    @Test("the first plugin accepting a strategy wins; built-ins come last")
    func strategies() throws {
        let picked = HostInfo(host: "special", port: 1, role: .reader)
        let chain = PluginChain {
            Recording(name: "a", trace: trace, strategy: "fancy", pickedHost: picked)
            Recording(name: "b", trace: trace, strategy: "fancy", pickedHost: HostInfo(host: "never", port: 1))
        }
        let connection = try openConnection(chain: chain)
        trace.reset()
        #expect(connection.service.acceptsStrategy("fancy", role: .reader))
        #expect(trace.all == ["a.accepts"])
        trace.reset()
        #expect(try connection.service.hostInfo(byStrategy: "fancy", role: .reader).host == "special")
        #expect(trace.all == ["a.hostInfo"])
        #expect(connection.service.acceptsStrategy("random", role: .reader))
        #expect(try connection.service.hostInfo(byStrategy: "random", role: .reader).role == .reader)
        let error = try #require(throws: WrapperError.self) {
            try connection.service.hostInfo(byStrategy: "nope", role: .reader)
        }
        #expect(error.code == .unsupportedStrategy)
        #expect(error.message.contains("round_robin"))
    }

    @Test("a plugin can connect through the chain from inside execute, skipping itself")
    func reentrancy() throws {
        struct Reconnecting: Plugin {
            let trace: Trace
            var subscribedMethods: PluginMethods { [.cursorExecute, .connect] }
            func connect(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
                trace.add("reconnecting.connect")
                return try next(request, service)
            }
            func execute(_ call: MethodCall, service: PluginService, next: ExecuteNext) throws -> CallResult {
                guard call.sql == "switch" else { return try next(call, service) }
                let reader = try service.hostInfo(byStrategy: "round_robin", role: .reader)
                let connection = try service.connect(to: reader, skipping: Reconnecting.self)
                try service.setCurrentConnection(connection, host: reader)
                var rerun = call
                rerun.sql = "SELECT 1"
                return try next(rerun, service)
            }
        }
        let chain = PluginChain {
            Reconnecting(trace: trace)
            Recording(name: "inner", trace: trace)
        }
        let driver = InMemoryDriver()
        let connection = try openConnection(driver: driver, chain: chain)
        trace.reset()
        let result = try connection.execute("switch")
        #expect(result.rows == [[.integer(1)]])
        #expect(trace.all == ["inner.hostInfo", "inner.connect", "inner.connectionChanged.switch", "inner.before", "inner.after"])
        #expect(connection.currentHost?.role == .reader)
        #expect(driver.openedConnections.count == 2)
        #expect(driver.openedConnections[0].isClosed)
    }

    @Test("force connect runs its own pipeline")
    func forceConnect() throws {
        let connection = try openConnection(chain: PluginChain {
            Recording(name: "a", trace: trace)
            Recording(name: "b", trace: trace, subscribed: [.connect])
        })
        trace.reset()
        _ = try connection.service.forceConnect(to: HostInfo(host: "reader2", port: 5432, role: .reader))
        #expect(trace.all == ["a.forceConnect"])
    }

    @Test("two callers at once get a typed error; abort works from another thread")
    func concurrentUse() throws {
        final class Gate: Sendable {
            let entered = Atomic<Bool>(false)
            let release = Atomic<Bool>(false)
        }
        let gate = Gate()
        let driver = InMemoryDriver { _, _, _ in
            gate.entered.store(true, ordering: .sequentiallyConsistent)
            while !gate.release.load(ordering: .sequentiallyConsistent) { sched_yield() }
            return .empty
        }
        let connection = try openConnection(driver: driver, chain: PluginChain {})
        let done = DispatchSemaphore(value: 0)
        final class Outcome: Sendable { let error = LockedValue<WrapperError?>(nil) }
        let outcome = Outcome()
        DispatchQueue.global().async {
            do { try connection.execute("SELECT slow") } catch let error as WrapperError {
                outcome.error.withLock { $0 = error }
            } catch {}
            done.signal()
        }
        while !gate.entered.load(ordering: .sequentiallyConsistent) { sched_yield() }
        let error = try #require(throws: WrapperError.self) { try connection.execute("SELECT 1") }
        #expect(error.code == .concurrentUse)
        connection.abort()
        gate.release.store(true, ordering: .sequentiallyConsistent)
        done.wait()
        // The in-memory driver notices the abort after its handler returns; real drivers are
        // interrupted in the middle of the call (see the driver tests).
        #expect(driver.openedConnections[0].wasAborted)
        let afterAbort = try #require(throws: WrapperError.self) { try connection.execute("SELECT 1") }
        #expect(afterAbort.code == .network)
        #expect(afterAbort.message.contains("aborted"))
        _ = outcome
    }

    @Test("closing twice is harmless and calls after close fail")
    func close() throws {
        let connection = try openConnection(chain: PluginChain { Recording(name: "a", trace: trace) })
        try connection.close()
        try connection.close()
        #expect(connection.isClosed)
        let error = try #require(throws: WrapperError.self) { try connection.execute("SELECT 1") }
        #expect(error.code == .connectionClosed)
    }

    @Test("allowed and blocked lists filter the hosts; availability marks are applied")
    func hostFilters() throws {
        let driver = InMemoryDriver()
        let connection = try openConnection(driver: driver, chain: PluginChain {})
        let service = connection.service
        #expect(service.hosts.map(\.host) == ["writer", "reader1", "reader2"])
        service.setAllowedAndBlockedHosts(allowed: ["writer", "reader1"], blocked: ["reader1"])
        #expect(service.hosts.map(\.host) == ["writer"])
        #expect(service.allHosts.count == 3)
        service.setAllowedAndBlockedHosts(allowed: nil, blocked: nil)
        service.setAvailability(.unavailable, forAliases: ["reader2:5432"])
        #expect(service.hosts.first { $0.host == "reader2" }?.availability == .unavailable)
        // A failed connect marks the host unavailable; random selection then avoids it.
        driver.takeDown("reader1")
        #expect(throws: WrapperError.self) {
            _ = try service.connect(to: HostInfo(host: "reader1", port: 5432, role: .reader))
        }
        let error = try #require(throws: WrapperError.self) { try service.hostInfo(byStrategy: "random", role: .reader) }
        #expect(error.code == .noHostAvailable)
        driver.bringUp("reader1")
        _ = try service.connect(to: HostInfo(host: "reader1", port: 5432, role: .reader))
        #expect(try service.hostInfo(byStrategy: "random", role: .reader).host == "reader1")
    }

    @Test("a failed session transfer keeps the old connection current and closes the new one")
    func failedTransfer() throws {
        let driver = InMemoryDriver()
        let connection = try openConnection(driver: driver, chain: PluginChain {})
        try connection.setSchema("app")
        let old = try #require(driver.openedConnections.first)
        let reader = HostInfo(host: "reader1", port: 5432, role: .reader)
        let new = try connection.service.connect(to: reader)
        driver.abort(new)  // the new connection breaks before the transfer
        #expect(throws: WrapperError.self) { try connection.service.setCurrentConnection(new, host: reader) }
        #expect(connection.service.currentConnection === old)
        #expect(connection.currentHost?.host == "writer")
        #expect(driver.isClosed(new))
        #expect(try connection.schema() == "app")
    }

    @Test("plugin to skip works through a registry chain")
    func skipInDynamicChain() throws {
        let dynamic = DynamicPluginChain([Recording(name: "r", trace: trace), Other(trace: trace)])
        let connection = try openConnection(chain: PluginChain { dynamic })
        trace.reset()
        _ = try connection.service.connect(to: HostInfo(host: "reader1", port: 5432, role: .reader), skipping: Recording.self)
        #expect(trace.all.isEmpty)
        _ = try connection.service.connect(to: HostInfo(host: "reader1", port: 5432, role: .reader))
        #expect(trace.all == ["r.connect"])
    }

    @Test("an invalid session property fails at open, not mid-switch")
    func invalidSessionProperty() throws {
        let error = try #require(throws: WrapperError.self) {
            try openConnection(properties: ["rollback_on_switch": "perhaps"], chain: PluginChain {})
        }
        #expect(error.message.contains("rollback_on_switch"))
    }

    @Test("a closed connection runs no plugin")
    func closedRunsNothing() throws {
        let connection = try openConnection(chain: PluginChain { Recording(name: "a", trace: trace) })
        try connection.close()
        trace.reset()
        #expect(throws: WrapperError.self) { try connection.commit() }
        #expect(trace.all.isEmpty)
    }
}
