/// A call that can flow through a plugin chain, named as in the reference wrappers.
///
/// The names ("Connection.commit", "Cursor.execute", "connect", ...) are the reference's subscription
/// keys, so its documentation maps onto ours. Each method has a small stable ``id`` that indexes a
/// ``PluginMethods`` bit set, which keeps subscription checks on the hot path to one `AND`.
public struct PluginMethod: Hashable, Sendable, CustomStringConvertible {
    /// The position of this method in ``PluginMethods``; stable across releases.
    public let id: UInt8
    /// The reference's name of the method, used as its subscription key.
    public let name: String
    /// Pipeline methods always run their pipeline, even when nobody but the terminal step subscribes.
    public let alwaysUsesPipeline: Bool

    @usableFromInline
    init(_ id: UInt8, _ name: String, alwaysUsesPipeline: Bool = false) {
        self.id = id
        self.name = name
        self.alwaysUsesPipeline = alwaysUsesPipeline
    }

    public var description: String { name }

    public static func == (lhs: PluginMethod, rhs: PluginMethod) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

extension PluginMethod {
    public static let connectionClose = PluginMethod(0, "Connection.close")
    public static let connectionCommit = PluginMethod(1, "Connection.commit", alwaysUsesPipeline: true)
    public static let connectionRollback = PluginMethod(2, "Connection.rollback", alwaysUsesPipeline: true)
    public static let connectionCursor = PluginMethod(3, "Connection.cursor")
    public static let connectionTpcBegin = PluginMethod(4, "Connection.tpc_begin", alwaysUsesPipeline: true)
    public static let connectionTpcPrepare = PluginMethod(5, "Connection.tpc_prepare", alwaysUsesPipeline: true)
    public static let connectionTpcCommit = PluginMethod(6, "Connection.tpc_commit", alwaysUsesPipeline: true)
    public static let connectionTpcRollback = PluginMethod(7, "Connection.tpc_rollback", alwaysUsesPipeline: true)
    public static let connectionTpcRecover = PluginMethod(8, "Connection.tpc_recover")
    public static let connectionAutocommit = PluginMethod(9, "Connection.autocommit")
    public static let connectionAutocommitSetter = PluginMethod(10, "Connection.autocommit_setter")
    public static let connectionIsReadOnly = PluginMethod(11, "Connection.is_read_only")
    public static let connectionSetReadOnly = PluginMethod(12, "Connection.set_read_only")
    public static let connectionIsClosed = PluginMethod(13, "Connection.is_closed")
    public static let cursorClose = PluginMethod(14, "Cursor.close")
    public static let cursorExecute = PluginMethod(15, "Cursor.execute")
    public static let cursorExecuteMany = PluginMethod(16, "Cursor.executemany")
    public static let cursorFetchOne = PluginMethod(17, "Cursor.fetchone")
    public static let cursorFetchMany = PluginMethod(18, "Cursor.fetchmany")
    public static let cursorFetchAll = PluginMethod(19, "Cursor.fetchall")
    public static let cursorNextSet = PluginMethod(20, "Cursor.nextset")
    public static let cursorSetInputSizes = PluginMethod(21, "Cursor.setinputsizes")
    public static let cursorSetOutputSize = PluginMethod(22, "Cursor.setoutputsize")
    public static let cursorCallProc = PluginMethod(23, "Cursor.callproc")
    public static let cursorScroll = PluginMethod(24, "Cursor.scroll")
    public static let cursorCopyFrom = PluginMethod(25, "Cursor.copy_from")
    public static let cursorCopyTo = PluginMethod(26, "Cursor.copy_to")
    public static let cursorCopyExpert = PluginMethod(27, "Cursor.copy_expert")
    public static let cursorConnection = PluginMethod(28, "Cursor.connection")
    public static let cursorRowNumber = PluginMethod(29, "Cursor.rownumber")
    public static let cursorNext = PluginMethod(30, "Cursor.__next__")
    public static let cursorLastRowID = PluginMethod(31, "Cursor.lastrowid")
    /// Session-state calls of this library that the reference has no name for.
    public static let connectionIsolationLevel = PluginMethod(40, "Connection.isolation_level")
    public static let connectionSetIsolationLevel = PluginMethod(41, "Connection.set_isolation_level")
    public static let connectionSchema = PluginMethod(42, "Connection.schema")
    public static let connectionSetSchema = PluginMethod(43, "Connection.set_schema")
    public static let connectionPing = PluginMethod(44, "Connection.ping")

    // Pipeline pseudo-methods.
    public static let connect = PluginMethod(32, "connect", alwaysUsesPipeline: true)
    public static let forceConnect = PluginMethod(33, "force_connect", alwaysUsesPipeline: true)
    public static let initHostProvider = PluginMethod(34, "init_host_provider", alwaysUsesPipeline: true)
    public static let notifyConnectionChanged = PluginMethod(35, "notify_connection_changed", alwaysUsesPipeline: true)
    public static let notifyHostListChanged = PluginMethod(36, "notify_host_list_changed", alwaysUsesPipeline: true)
    public static let getHostInfoByStrategy = PluginMethod(37, "get_host_info_by_strategy", alwaysUsesPipeline: true)
    public static let acceptsStrategy = PluginMethod(38, "accepts_strategy", alwaysUsesPipeline: true)

    /// Every method this library knows, in `id` order of declaration.
    public static let allKnown: [PluginMethod] = [
        .connectionClose, .connectionCommit, .connectionRollback, .connectionCursor, .connectionTpcBegin,
        .connectionTpcPrepare, .connectionTpcCommit, .connectionTpcRollback, .connectionTpcRecover,
        .connectionAutocommit, .connectionAutocommitSetter, .connectionIsReadOnly, .connectionSetReadOnly,
        .connectionIsClosed, .cursorClose, .cursorExecute, .cursorExecuteMany, .cursorFetchOne,
        .cursorFetchMany, .cursorFetchAll, .cursorNextSet, .cursorSetInputSizes, .cursorSetOutputSize,
        .cursorCallProc, .cursorScroll, .cursorCopyFrom, .cursorCopyTo, .cursorCopyExpert, .cursorConnection,
        .cursorRowNumber, .cursorNext, .cursorLastRowID, .connect, .forceConnect, .initHostProvider,
        .notifyConnectionChanged, .notifyHostListChanged, .getHostInfoByStrategy, .acceptsStrategy,
        .connectionIsolationLevel, .connectionSetIsolationLevel, .connectionSchema, .connectionSetSchema,
        .connectionPing,
    ]

    /// Looks a method up by its reference name; `nil` when no method has that name.
    public init?(name: String) {
        guard let found = PluginMethod.allKnown.first(where: { $0.name == name }) else { return nil }
        self = found
    }
}

/// A set of ``PluginMethod``s, stored as a bit set so that membership costs one `AND`.
///
/// ``all`` is the reference's `"*"`: a plugin subscribed to it sees every call, including methods
/// added in later releases.
public struct PluginMethods: Hashable, Sendable, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// The raw bits; bit `n` is the method whose ``PluginMethod/id`` is `n`.
    public var rawValue: UInt64

    /// Creates a set from its raw bits.
    @inlinable
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Creates a set holding the given methods.
    @inlinable
    public init(_ methods: some Sequence<PluginMethod>) {
        var bits: UInt64 = 0
        for method in methods { bits |= 1 << UInt64(method.id) }
        self.rawValue = bits
    }

    /// Creates a set holding the given methods.
    @inlinable
    public init(arrayLiteral elements: PluginMethod...) { self.init(elements) }

    /// Creates a set from the reference's subscription keys, for example `["Connection.commit", "*"]`.
    ///
    /// - Throws: ``WrapperError`` with code ``WrapperError/Code/invalidSubscription`` for a name no
    ///   method has.
    public init(names: some Sequence<String>) throws {
        var set = PluginMethods.none
        for name in names {
            if name == "*" {
                set = .all
                continue
            }
            guard let method = PluginMethod(name: name) else {
                throw WrapperError(
                    .invalidSubscription,
                    "Unknown method name '\(name)' in a subscription. Use \"*\" or one of: "
                        + PluginMethod.allKnown.map(\.name).joined(separator: ", "))
            }
            set.insert(method)
        }
        self = set
    }

    /// No method.
    public static let none = PluginMethods(rawValue: 0)
    /// Every method: the reference's `"*"`.
    public static let all = PluginMethods(rawValue: .max)
    /// The connect pipelines.
    public static let connectMethods: PluginMethods = [.connect, .forceConnect]

    /// Whether `method` is in the set.
    @inlinable @inline(__always)
    public func contains(_ method: PluginMethod) -> Bool {
        rawValue & (1 << UInt64(method.id)) != 0
    }

    /// Adds `method`.
    @inlinable
    public mutating func insert(_ method: PluginMethod) { rawValue |= 1 << UInt64(method.id) }

    /// The union of two sets.
    @inlinable
    public func union(_ other: PluginMethods) -> PluginMethods { PluginMethods(rawValue: rawValue | other.rawValue) }

    /// Whether the set is empty.
    @inlinable
    public var isEmpty: Bool { rawValue == 0 }

    public var description: String {
        if self == .all { return "[*]" }
        return "[" + PluginMethod.allKnown.filter(contains).map(\.name).joined(separator: ", ") + "]"
    }
}
