import Logging
import Synchronization

/// The per-connection service handed to every hook: current connection and host, the host list and
/// its provider, connecting through the chain, error classification, session state and plugin
/// state.
///
/// Plugins keep no copies of what the service holds; they read it here each time. Reads and writes
/// are thread-safe (a monitor may read the current connection while the owner runs a call), but a
/// connection is driven by one caller at a time.
public final class PluginService: Sendable {
    /// The driver dialect of this connection.
    public let driver: any DriverDialect
    /// The properties the connection was opened with.
    public let properties: Properties
    /// The logger of this connection.
    public let logger: Logger
    /// Shared resources: host selection strategies and the async executor.
    public let runtime: WrapperRuntime
    /// Named host selection strategies.
    public var hostSelectors: HostSelectors { runtime.hostSelectors }
    @usableFromInline let chain: ErasedChain
    private let state: LockedValue<State>
    private let transferSessionState: Bool
    private let resetSessionStateOnClose: Bool
    private let rollbackOnSwitch: Bool
    /// How long a host that failed to connect is treated as unavailable.
    public let unavailableHostExpiry: Duration

    struct State: @unchecked Sendable {
        // DriverConnection is Sendable; the dictionary values are Sendable by construction.
        var currentConnection: (any DriverConnection)?
        var currentHost: HostInfo?
        var allHosts: [HostInfo] = []
        var allowedHosts: Set<String>?
        var blockedHosts: Set<String>?
        var hostListProvider: (any HostListProvider)?
        var initialHost: HostInfo?
        var sessionState = SessionState()
        var unavailable: [String: ContinuousClock.Instant] = [:]
        var pluginStates: [ObjectIdentifier: AnyObject] = [:]
        var databaseDialect: (any DatabaseDialect)?
        var canUpdateDialect = false
        var monitorListener: (monitor: ClusterTopologyMonitor, token: ClusterTopologyMonitor.ListenerToken)?
    }

    /// Set from a topology monitor's thread when the cluster changed; the owner refreshes its host
    /// list before its next call.
    @usableFromInline let hostsStale = Atomic<Bool>(false)

    deinit {
        // A connection dropped without close() must not keep its listener (and the monitor) alive.
        detachFromMonitor()
    }

    /// Creates the service of one connection.
    ///
    /// - Throws: ``WrapperError`` for invalid session-state properties, so a typo surfaces at open
    ///   rather than in the middle of a failover.
    public init(
        driver: any DriverDialect, chain: ErasedChain, properties: Properties, runtime: WrapperRuntime,
        logger: Logger, unavailableHostExpiry: Duration = .seconds(30)
    ) throws {
        self.transferSessionState = try properties.value(WrapperProperties.transferSessionStateOnSwitch)
        self.resetSessionStateOnClose = try properties.value(WrapperProperties.resetSessionStateOnClose)
        self.rollbackOnSwitch = try properties.value(WrapperProperties.rollbackOnSwitch)
        self.unavailableHostExpiry = unavailableHostExpiry
        self.driver = driver
        self.chain = chain
        self.properties = properties
        self.runtime = runtime
        self.logger = logger
        self.state = LockedValue(State())
    }

    // MARK: Current connection

    /// The physical connection calls run on; `nil` before the first connect and after close.
    public var currentConnection: (any DriverConnection)? { state.withLock { $0.currentConnection } }

    /// The host of the current connection. Before one is set: the initial host, else the writer
    /// among the allowed hosts, else the first allowed host.
    public var currentHostInfo: HostInfo? {
        state.withLock { state in
            if let host = state.currentHost { return host }
            if let initial = state.initialHost { return initial }
            let allowed = Self.filter(state.allHosts, state)
            return allowed.first { $0.role == .writer } ?? allowed.first
        }
    }

    /// Makes `connection` current. On a switch, carries the session state to it (recording its own
    /// pristine values first), rolls back the old connection's open transaction
    /// (`rollback_on_switch`), notifies the plugins and, unless one asks to preserve it, restores the
    /// old connection's pristine session state and closes it.
    ///
    /// If the session state cannot be carried over, the old connection stays current, the new one
    /// is closed, and the error is thrown.
    public func setCurrentConnection(_ connection: any DriverConnection, host: HostInfo) throws {
        let (previous, previousHost) = state.withLock { state -> ((any DriverConnection)?, HostInfo?) in
            (state.currentConnection, state.currentHost)
        }
        guard let old = previous else {
            state.withLock { state in
                state.currentConnection = connection
                state.currentHost = host
                state.sessionState.reset()
            }
            _ = chain.plugin.notifyConnectionChanged([.initialConnection], service: self)
            return
        }
        guard old !== connection else {
            state.withLock { $0.currentHost = host }
            return
        }

        let oldSessionState = state.withLock { $0.sessionState }
        var newSessionState = oldSessionState
        if transferSessionState {
            do {
                newSessionState = try transfer(oldSessionState, to: connection)
            } catch {
                driver.close(connection)
                throw error
            }
        }
        let oldWasInTransaction = !driver.isClosed(old) && driver.isInTransaction(old)
        state.withLock { state in
            state.currentConnection = connection
            state.currentHost = host
            state.sessionState = newSessionState
        }
        if oldWasInTransaction, rollbackOnSwitch {
            do { _ = try driver.perform(MethodCall(.connectionRollback), on: old) } catch {
                logger.debug("Rollback of the replaced connection failed", metadata: ["error": "\(WrapperError.redactedDescription(of: error))"])
            }
        }
        let action = chain.plugin.notifyConnectionChanged([.connectionObjectChanged], service: self)
        if action != .preserve {
            if resetSessionStateOnClose, !driver.isClosed(old) {
                for value in oldSessionState.pristineValuesToRestore { try? driver.apply(value, to: old) }
            }
            // Also a broken handle, so it is freed here rather than on whichever thread drops it.
            driver.close(old)
        }
        logger.debug("Switched connection", metadata: [
            "from": "\(previousHost?.hostAndPort ?? "?")", "to": "\(host.hostAndPort)",
        ])
    }

    /// Applies the changed settings to `connection`, with its own values before them as pristine.
    private func transfer(_ sessionState: SessionState, to connection: any DriverConnection) throws -> SessionState {
        var transferred = SessionState()
        for value in sessionState.changedValues {
            transferred.setPristine(try driver.sessionValue(value.kind, of: connection))
            try driver.apply(value, to: connection)
            transferred.set(value)
        }
        return transferred
    }

    /// Forgets the current connection (after the wrapper closed it).
    public func clearCurrentConnection() {
        state.withLock { $0.currentConnection = nil }
    }

    /// Whether the current connection has a transaction open.
    public var isInTransaction: Bool {
        guard let connection = currentConnection else { return false }
        return driver.isInTransaction(connection)
    }

    // MARK: Hosts

    /// Every host of the topology, unfiltered.
    public var allHosts: [HostInfo] { state.withLock { Self.applyAvailability($0.allHosts, $0) } }

    /// The hosts that may be used: ``allHosts`` filtered by the allowed and blocked lists.
    public var hosts: [HostInfo] { state.withLock { Self.filter(Self.applyAvailability($0.allHosts, $0), $0) } }

    /// Restricts ``hosts``: only `allowed` host ids or names (all when `nil`), none of `blocked`.
    public func setAllowedAndBlockedHosts(allowed: Set<String>?, blocked: Set<String>?) {
        state.withLock {
            $0.allowedHosts = allowed
            $0.blockedHosts = blocked
        }
    }

    private static func filter(_ hosts: [HostInfo], _ state: State) -> [HostInfo] {
        hosts.filter { host in
            let keys = [host.hostID ?? host.host, host.host]
            if let allowed = state.allowedHosts, !keys.contains(where: allowed.contains) { return false }
            if let blocked = state.blockedHosts, keys.contains(where: blocked.contains) { return false }
            return true
        }
    }

    private static func applyAvailability(_ hosts: [HostInfo], _ state: State) -> [HostInfo] {
        guard !state.unavailable.isEmpty else { return hosts }
        let now = ContinuousClock.now
        return hosts.map { host in
            var host = host
            if host.allAliases.contains(where: { state.unavailable[$0].map { now < $0 } ?? false }) {
                host.availability = .unavailable
            }
            return host
        }
    }

    /// Marks every host known by one of `aliases` as (un)available; ``hosts`` reflects it. An
    /// unavailable mark expires after ``unavailableHostExpiry``, so one failure does not exclude a
    /// host for the life of the connection.
    public func setAvailability(_ availability: HostAvailability, forAliases aliases: Set<String>) {
        let expiry = ContinuousClock.now + unavailableHostExpiry
        state.withLock { state in
            for alias in aliases {
                if availability == .unavailable { state.unavailable[alias] = expiry } else { state.unavailable[alias] = nil }
            }
        }
    }

    /// The provider of the host list. A provider over a topology monitor makes the connection
    /// hear the cluster's changes.
    public var hostListProvider: (any HostListProvider)? {
        get { state.withLock { $0.hostListProvider } }
        set {
            let previous = state.withLock { state -> (monitor: ClusterTopologyMonitor, token: ClusterTopologyMonitor.ListenerToken)? in
                state.hostListProvider = newValue
                defer { state.monitorListener = nil }
                return state.monitorListener
            }
            previous.map { $0.monitor.removeListener($0.token) }
            if let rds = newValue as? RdsHostListProvider {
                let token = rds.monitor.addListener { [weak self] _, _ in self?.hostsStale.store(true, ordering: .releasing) }
                state.withLock { $0.monitorListener = (rds.monitor, token) }
            }
        }
    }

    /// Stops listening to the cluster's monitor (the monitor itself lives on for other connections).
    public func detachFromMonitor() {
        let listener = state.withLock { state -> (monitor: ClusterTopologyMonitor, token: ClusterTopologyMonitor.ListenerToken)? in
            defer { state.monitorListener = nil }
            return state.monitorListener
        }
        listener.map { $0.monitor.removeListener($0.token) }
    }

    /// Refreshes the host list if the cluster's monitor announced a change; called by the owner
    /// before each call, so plugins hear of changes on the connection's own thread.
    @inlinable
    public func refreshHostListIfStale() {
        guard hostsStale.load(ordering: .acquiring) else { return }
        hostsStale.store(false, ordering: .relaxed)
        try? refreshHostList()
    }

    /// The database dialect of the connection.
    public var databaseDialect: (any DatabaseDialect)? {
        get { state.withLock { $0.databaseDialect } }
        set { state.withLock { $0.databaseDialect = newValue } }
    }

    /// Chooses the first dialect from the initial host, and the host list provider that goes with it.
    public func setInitialDialect(host: HostInfo) throws {
        let (dialect, canUpdate) = try runtime.databaseDialects.initialDialect(
            for: host.host, port: host.port, family: driver.databaseFamily, properties: properties)
        state.withLock {
            $0.databaseDialect = dialect
            $0.canUpdateDialect = canUpdate
            // The first connection goes to the host the user named, even when a topology is known.
            $0.initialHost = host
        }
        hostListProvider = try makeHostListProvider(for: dialect)
    }

    /// After the first connection: detects the dialect once (one step, as the reference) and, if
    /// it changed, switches the host list provider and refreshes the hosts.
    public func updateDialect(connection: any DriverConnection, host: HostInfo) throws {
        let (current, canUpdate) = state.withLock { ($0.databaseDialect, $0.canUpdateDialect) }
        guard canUpdate, let current else { return }
        let detected = runtime.databaseDialects.detect(
            current: current, host: host.host, port: host.port, connection: connection, driver: driver)
        state.withLock { $0.canUpdateDialect = false }
        guard detected.code != current.code else { return }
        logger.debug("Database dialect detected", metadata: ["from": "\(current.code)", "to": "\(detected.code)"])
        state.withLock { $0.databaseDialect = detected }
        let replaced = hostListProvider as? RdsHostListProvider
        hostListProvider = try makeHostListProvider(for: detected)
        if let replaced { runtime.topologyMonitors.disposeIfUnused(replaced.monitor) }
        try refreshHostList(connection: connection)
    }

    /// Whether the current host is a reader, asked of the server with the dialect's query.
    public func hostRole(connection: (any DriverConnection)? = nil) throws -> HostRole {
        guard let connection = connection ?? currentConnection else {
            throw WrapperError(.connectionClosed, "No connection to ask for its role.")
        }
        let query = databaseDialect?.isReaderQuery
            ?? (driver.databaseFamily == .postgres ? "SELECT pg_catalog.pg_is_in_recovery()" : "SELECT @@read_only")
        guard let value = try driver.query(query, on: connection).rows.first?.first, let isReader = value.truthy else {
            throw WrapperError(.driver, "The server did not say whether it is a reader.")
        }
        return isReader ? .reader : .writer
    }

    /// The host the first connection was opened to.
    public var initialConnectionHostInfo: HostInfo? {
        get { state.withLock { $0.initialHost } }
        set { state.withLock { $0.initialHost = newValue } }
    }

    /// Whether the provider's list never changes.
    public var isStaticHostListProvider: Bool { hostListProvider?.isStatic ?? true }

    /// Refreshes the host list through the provider; changes are announced to the plugins.
    public func refreshHostList(connection: (any DriverConnection)? = nil) throws {
        guard let provider = hostListProvider else { return }
        try updateHosts(provider.refresh(connection: connection ?? currentConnection, service: self))
    }

    /// Refreshes the host list bypassing caches; changes are announced to the plugins.
    public func forceRefreshHostList(connection: (any DriverConnection)? = nil) throws {
        guard let provider = hostListProvider else { return }
        try updateHosts(provider.forceRefresh(connection: connection ?? currentConnection, service: self))
    }

    /// Replaces the host list; when it differs, plugins hear the diff.
    public func updateHosts(_ newHosts: [HostInfo]) {
        let changes = state.withLock { state -> HostListChanges in
            if state.initialHost == nil { state.initialHost = newHosts.first }
            let changes = HostInfo.changes(from: state.allHosts, to: newHosts)
            if !changes.isEmpty || state.allHosts.isEmpty { state.allHosts = newHosts }
            return changes
        }
        if !changes.isEmpty { chain.plugin.notifyHostListChanged(changes, service: self) }
    }

    // MARK: Connecting through the chain

    /// Opens a connection to `host` through the connect pipeline, skipping plugins of type `skipping`.
    /// Does not make it current: call ``setCurrentConnection(_:host:)`` for that.
    public func connect(
        to host: HostInfo, properties: Properties? = nil, skipping: (any Plugin.Type)? = nil
    ) throws -> any DriverConnection {
        let request = ConnectRequest(
            host: host, properties: properties ?? self.properties, isInitialConnection: currentConnection == nil,
            pluginToSkip: skipping.map { ObjectIdentifier($0) })
        return try chain.plugin.connect(request, service: self) { request, service in
            try service.openOnDriver(request)
        }
    }

    /// Like ``connect(to:properties:skipping:)``, through the force-connect pipeline (no pools).
    public func forceConnect(
        to host: HostInfo, properties: Properties? = nil, skipping: (any Plugin.Type)? = nil
    ) throws -> any DriverConnection {
        let request = ConnectRequest(
            host: host, properties: properties ?? self.properties, isInitialConnection: currentConnection == nil,
            pluginToSkip: skipping.map { ObjectIdentifier($0) })
        return try chain.plugin.forceConnect(request, service: self) { request, service in
            try service.openOnDriver(request)
        }
    }

    /// The property through which a driver learns the address its host name resolved to.
    public static let resolvedAddressKey = "wrapper_resolved_address"

    /// The terminal step of the connect pipelines: the driver opens the connection.
    public func openOnDriver(_ request: ConnectRequest) throws -> any DriverConnection {
        var properties = request.properties
        // Names resolve through the runtime's resolver, so a resolver of the application's (or the
        // cluster lab's hosts file) decides where a name points; the driver keeps the name for TLS.
        if !RdsURL.isIPAddress(request.host.host), let address = runtime.resolver.overriddenAddress(of: request.host.host) {
            properties[Self.resolvedAddressKey] = address
        }
        do {
            let connection = try driver.connect(to: request.host, properties: properties)
            setAvailability(.available, forAliases: request.host.allAliases)
            // As the reference's default plugin: the dialect is settled on the first physical
            // connection, before the plugins that wrap the connect step see it.
            if request.isInitialConnection {
                do { try updateDialect(connection: connection, host: request.host) } catch {
                    driver.close(connection)
                    throw error
                }
            }
            return connection
        } catch {
            if classify(error).contains(.network) {
                setAvailability(.unavailable, forAliases: request.host.allAliases)
            }
            throw error
        }
    }

    /// The terminal step of the execute pipelines: the driver runs the call on the current connection.
    @inlinable
    public func performOnDriver(_ call: MethodCall) throws -> CallResult {
        guard let connection = currentConnection else {
            throw WrapperError(.connectionClosed, "The connection is closed; open a new one.")
        }
        return try driver.perform(call, on: connection)
    }

    // MARK: Errors

    /// How the driver dialect classifies `error`.
    public func classify(_ error: any Error) -> ErrorClassification { driver.classify(error) }
    /// Whether `error` means the host is unreachable or the connection broke.
    public func isNetworkError(_ error: any Error) -> Bool { classify(error).contains(.network) }
    /// Whether `error` means the credentials were rejected.
    public func isLoginError(_ error: any Error) -> Bool { classify(error).contains(.login) }
    /// Whether `error` means a write hit a read-only host.
    public func isReadOnlyError(_ error: any Error) -> Bool { classify(error).contains(.readOnly) }

    // MARK: Strategies

    /// Whether a plugin or the built-in selectors implement `strategy`.
    public func acceptsStrategy(_ strategy: String, role: HostRole) -> Bool {
        guard role != .unknown else { return false }
        return chain.plugin.acceptsStrategy(strategy, role: role, service: self) || hostSelectors.selector(for: strategy) != nil
    }

    /// A host chosen by `strategy` among `hosts` (default: ``hosts``): the first plugin that
    /// implements the strategy wins, then the built-in selectors.
    ///
    /// - Throws: ``WrapperError`` (``WrapperError/Code/unsupportedStrategy``) listing the known
    ///   strategies when nobody implements it, or the selector's error.
    public func hostInfo(byStrategy strategy: String, role: HostRole, hosts: [HostInfo]? = nil) throws -> HostInfo {
        if let host = try chain.plugin.hostInfo(byStrategy: strategy, role: role, hosts: hosts, service: self) {
            return host
        }
        guard role != .unknown else {
            throw WrapperError(.unsupportedStrategy, "A host role of 'unknown' cannot be selected; ask for writer or reader.")
        }
        guard let selector = hostSelectors.selector(for: strategy) else {
            throw WrapperError(
                .unsupportedStrategy,
                "Unknown host selection strategy '\(strategy)'. Known strategies: \(hostSelectors.strategies.joined(separator: ", ")).")
        }
        return try selector.select(from: hosts ?? self.hosts, role: role, properties: properties)
    }

    // MARK: Session state

    /// The session settings changed on this connection.
    public var sessionState: SessionState { state.withLock { $0.sessionState } }

    /// Records the pristine value of a setting (read from the current connection) before its first change.
    public func capturePristine(_ kind: SessionValueKind) throws {
        guard !state.withLock({ $0.sessionState.hasPristine(kind) }), let connection = currentConnection else { return }
        let value = try driver.sessionValue(kind, of: connection)
        state.withLock { $0.sessionState.setPristine(value) }
    }

    /// Records a session change the user made.
    public func recordSessionChange(_ value: SessionValue) {
        state.withLock { $0.sessionState.set(value) }
    }

    // MARK: Plugin state

    /// Per-connection state of a plugin, created on first use. Plugin values are shared between
    /// connections; their mutable state lives here.
    ///
    /// State is keyed by its type: two plugins that use the same state type share it.
    public func state<T: AnyObject & Sendable>(_ type: T.Type, create: () -> T) -> T {
        let key = ObjectIdentifier(type)
        if let existing = state.withLock({ $0.pluginStates[key] as? T }) { return existing }
        // Created outside the lock, so `create` may use the service.
        let created = create()
        return state.withLock { state in
            if let raced = state.pluginStates[key] as? T { return raced }
            state.pluginStates[key] = created
            return created
        }
    }

    /// Per-connection state of a plugin if it was created.
    public func existingState<T: AnyObject & Sendable>(_ type: T.Type) -> T? {
        state.withLock { $0.pluginStates[ObjectIdentifier(type)] as? T }
    }
}
