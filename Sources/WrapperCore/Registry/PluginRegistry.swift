import Logging
import Synchronization

/// Named plugin factories with weights, configuration profiles and host selection strategies:
/// turns a `plugins` property into a ``DynamicPluginChain``.
///
/// A registry is a value you pass in; `PluginRegistry.default` (in BuiltinPlugins) holds the
/// built-in plugins for convenience. It is safe to use from many threads at once, including
/// registering factories while others build chains.
public final class PluginRegistry: Sendable {
    private struct State {
        var factories: [String: PluginFactory] = [:]
        var profiles: [String: ConfigurationProfile] = [:]
    }

    private let state: LockedValue<State>
    /// Shared resources of connections built with this registry.
    public let runtime: WrapperRuntime
    /// The host selection strategies of connections built with this registry.
    public var hostSelectors: HostSelectors { runtime.hostSelectors }

    /// Creates a registry holding `factories`.
    ///
    /// - Throws: ``WrapperError`` (``WrapperError/Code/duplicatePlugin``) when two share a code.
    public convenience init(factories: [PluginFactory], runtime: WrapperRuntime = WrapperRuntime()) throws {
        self.init(runtime: runtime)
        for factory in factories { try register(factory) }
    }

    /// Creates an empty registry.
    public init(runtime: WrapperRuntime = WrapperRuntime()) {
        self.state = LockedValue(State())
        self.runtime = runtime
    }

    /// Adds a factory.
    ///
    /// - Throws: ``WrapperError`` (``WrapperError/Code/duplicatePlugin``) when the code is taken, or
    ///   (``WrapperError/Code/invalidProperty``) when it is empty or contains a comma or blank.
    public func register(_ factory: PluginFactory) throws {
        let code = factory.code
        guard !code.isEmpty, !code.contains(","), !code.contains(where: \.isWhitespace) else {
            throw WrapperError(.invalidProperty, "Plugin code '\(code)' is invalid: use a non-empty name without commas or spaces.")
        }
        try state.withLock { state in
            guard state.factories[code] == nil else {
                throw WrapperError(
                    .duplicatePlugin,
                    "A plugin with code '\(code)' is already registered; choose another code or use a new registry.")
            }
            state.factories[code] = factory
        }
    }

    /// Adds a factory built from a closure.
    public func register(
        code: String, weight: PluginWeight = .relativeToPrior,
        make: @escaping @Sendable (PluginFactoryContext) throws -> any Plugin
    ) throws {
        try register(PluginFactory(code: code, weight: weight, make: make))
    }

    /// The registered codes, sorted.
    public var registeredCodes: [String] { state.withLock { $0.factories.keys.sorted() } }

    /// Adds a profile, replacing one of the same name.
    public func addOrReplaceProfile(_ profile: ConfigurationProfile) {
        state.withLock { $0.profiles[profile.name] = profile }
    }

    /// Removes a profile.
    public func removeProfile(named name: String) {
        _ = state.withLock { $0.profiles.removeValue(forKey: name) }
    }

    /// A profile by name.
    public func profile(named name: String) -> ConfigurationProfile? { state.withLock { $0.profiles[name] } }

    /// The properties a connection uses: with `profile_name`, the profile's properties under the user's.
    ///
    /// - Throws: ``WrapperError`` (``WrapperError/Code/unknownProfile``) naming the known profiles.
    public func effectiveProperties(_ properties: Properties) throws -> Properties {
        guard let name = try properties.value(WrapperProperties.profileName) else { return properties }
        return try requireProfile(name).properties.merging(properties)
    }

    private func requireProfile(_ name: String) throws -> ConfigurationProfile {
        guard let profile = profile(named: name) else {
            let known = state.withLock { $0.profiles.keys.sorted() }
            throw WrapperError(
                .unknownProfile,
                "Unknown configuration profile '\(name)'. Known profiles: \(known.isEmpty ? "none" : known.joined(separator: ", ")).")
        }
        return profile
    }

    /// The plugin codes a connection with `properties` gets, in chain order (outermost first).
    ///
    /// `profile_name` selects a profile's list (kept in order); otherwise `plugins` (absent: the
    /// reference's default list; empty: none), sorted by weight unless
    /// `auto_sort_wrapper_plugin_order` is false.
    ///
    /// - Throws: ``WrapperError`` for unknown, unavailable or duplicate codes and unknown profiles.
    /// When `plugins` is absent and the driver cannot abort a connection, the default list leaves
    /// out `host_monitoring_v2`, as the reference does for such drivers.
    public func resolveCodes(for properties: Properties, driver: (any DriverDialect)? = nil) throws -> [String] {
        if let name = try properties.value(WrapperProperties.profileName) {
            let codes = try requireProfile(name).plugins
            try validate(codes)
            return codes
        }
        var list = try properties.value(WrapperProperties.plugins) ?? WrapperProperties.defaultPluginList
        if properties["plugins"] == nil, let driver, !driver.supportsAbort {
            list = WrapperProperties.defaultPluginListWithoutAbort
        }
        var codes = list.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingWhitespace() }
        if codes.allSatisfy(\.isEmpty) { codes = [] }
        if codes.contains(where: \.isEmpty) {
            throw WrapperError(.unknownPlugin, "Property 'plugins' has an empty entry: remove the extra comma (plugins=a,b).")
        }
        try validate(codes)
        guard try properties.value(WrapperProperties.autoSortPluginOrder) else { return codes }
        let weights = try codes.map { code in
            try factory(for: code).weight
        }
        return Self.sortedByWeight(codes, weights)
    }

    /// Orders codes by weight with a stable sort; a relative weight is the previous weight plus one,
    /// walking the list in the user's order, as the reference does.
    public static func sortedByWeight(_ codes: [String], _ weights: [PluginWeight]) -> [String] {
        var last = 0
        let resolved = weights.map { weight -> Int in
            switch weight {
            case .fixed(let value): last = value
            case .relativeToPrior: last = last == Int.max ? last : last + 1
            }
            return last
        }
        return zip(codes, resolved).enumerated()
            .sorted { ($0.element.1, $0.offset) < ($1.element.1, $1.offset) }
            .map(\.element.0)
    }

    /// Builds the chain for a connection.
    ///
    /// - Throws: ``WrapperError`` for bad plugin lists, or whatever a factory throws.
    public func chain(for properties: Properties, driver: any DriverDialect, logger: Logger = .wrapperNoOp) throws
        -> DynamicPluginChain
    {
        let properties = try effectiveProperties(properties)
        let codes = try resolveCodes(for: properties, driver: driver)
        let context = PluginFactoryContext(properties: properties, driver: driver, logger: logger)
        let plugins = try codes.map { code in
            let factory = try factory(for: code)
            for property in factory.properties { try property.validate(in: properties) }
            return try factory.make(context)
        }
        return DynamicPluginChain(plugins)
    }

    private func validate(_ codes: [String]) throws {
        var seen: Set<String> = []
        for code in codes {
            _ = try factory(for: code)
            guard seen.insert(code).inserted else {
                throw WrapperError(.duplicatePlugin, "Plugin '\(code)' is listed twice in 'plugins'; list each plugin once.")
            }
        }
    }

    private func factory(for code: String) throws -> PluginFactory {
        let (factory, known) = state.withLock { ($0.factories[code], $0.factories.keys.sorted()) }
        if let factory { return factory }
        if ReferencePluginCodes.weight(of: code) != nil {
            throw WrapperError(
                .pluginUnavailable,
                "Plugin '\(code)' exists in the reference wrappers but is not available in this build. Remove it from 'plugins' "
                    + "(when 'plugins' is absent the default list '\(WrapperProperties.defaultPluginList)' applies; "
                    + "set plugins explicitly, or plugins= for none). Available: \(known.joined(separator: ", ")).")
        }
        throw WrapperError(
            .unknownPlugin,
            "Unknown plugin code '\(code)'. Known codes: \(known.joined(separator: ", ")). Register custom plugins with PluginRegistry.register(code:weight:make:).")
    }
}

extension Logger {
    /// A logger that discards everything: the default when the caller passes none.
    public static let wrapperNoOp = Logger(label: "aws-advanced-swift-wrapper", factory: { _ in SwiftLogNoOpLogHandler() })
}
