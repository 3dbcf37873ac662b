/// A call that can flow through a plugin chain, named as in the reference wrappers.
///
/// The names ("Connection.commit", "Cursor.execute", "connect", ...) are the reference's subscription
/// keys, so its documentation maps onto ours. Each method has a small stable ``id`` that indexes a
/// ``PluginMethods`` bit set, which keeps subscription checks on the hot path to one `AND`.
public struct PluginMethod: Hashable, Sendable, CustomStringConvertible {
    /// The position of this method in ``PluginMethods``; stable across releases.
    public let id: UInt8

    // Only the id is stored, so a call passes the method in one byte; the rest is looked up.
    @inlinable
    init(_ id: UInt8, _ name: String, alwaysUsesPipeline: Bool = false) {
        self.id = id
    }

    /// The reference's name of the method, used as its subscription key.
    public var name: String { PluginMethod.names[Int(id)] }

    /// Pipeline methods always run their pipeline, even when nobody but the terminal step subscribes.
    public var alwaysUsesPipeline: Bool { PluginMethod.pipelineAlways.contains(id) }

    private static let names: [String] = {
        var names = Array(repeating: "unknown", count: 64)
        for (id, name, _) in PluginMethod.table { names[Int(id)] = name }
        return names
    }()

    private static let table: [(UInt8, String, Bool)] = [
        (0, "Connection.close", false),
        (1, "Connection.commit", true),
        (2, "Connection.rollback", true),
        (3, "Connection.cursor", false),
        (4, "Connection.tpc_begin", true),
        (5, "Connection.tpc_prepare", true),
        (6, "Connection.tpc_commit", true),
        (7, "Connection.tpc_rollback", true),
        (8, "Connection.tpc_recover", false),
        (9, "Connection.autocommit", false),
        (10, "Connection.autocommit_setter", false),
        (11, "Connection.is_read_only", false),
        (12, "Connection.set_read_only", false),
        (13, "Connection.is_closed", false),
        (14, "Cursor.close", false),
        (15, "Cursor.execute", false),
        (16, "Cursor.executemany", false),
        (17, "Cursor.fetchone", false),
        (18, "Cursor.fetchmany", false),
        (19, "Cursor.fetchall", false),
        (20, "Cursor.nextset", false),
        (21, "Cursor.setinputsizes", false),
        (22, "Cursor.setoutputsize", false),
        (23, "Cursor.callproc", false),
        (24, "Cursor.scroll", false),
        (25, "Cursor.copy_from", false),
        (26, "Cursor.copy_to", false),
        (27, "Cursor.copy_expert", false),
        (28, "Cursor.connection", false),
        (29, "Cursor.rownumber", false),
        (30, "Cursor.__next__", false),
        (31, "Cursor.lastrowid", false),
        (40, "Connection.isolation_level", false),
        (41, "Connection.set_isolation_level", false),
        (42, "Connection.schema", false),
        (43, "Connection.set_schema", false),
        (44, "Connection.ping", false),
        (32, "connect", true),
        (33, "force_connect", true),
        (34, "init_host_provider", true),
        (35, "notify_connection_changed", true),
        (36, "notify_host_list_changed", true),
        (37, "get_host_info_by_strategy", true),
        (38, "accepts_strategy", true),
    ]

    private static let pipelineAlways: Set<UInt8> = Set(PluginMethod.table.filter(\.2).map(\.0))

    public var description: String { name }

    @inlinable public static func == (lhs: PluginMethod, rhs: PluginMethod) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

extension PluginMethod {
    /// The `Connection.close` call.
    @inlinable public static var connectionClose: PluginMethod { PluginMethod(0, "Connection.close") }
    /// The `Connection.commit` call.
    @inlinable public static var connectionCommit: PluginMethod { PluginMethod(1, "Connection.commit", alwaysUsesPipeline: true) }
    /// The `Connection.rollback` call.
    @inlinable public static var connectionRollback: PluginMethod { PluginMethod(2, "Connection.rollback", alwaysUsesPipeline: true) }
    /// The `Connection.cursor` call.
    @inlinable public static var connectionCursor: PluginMethod { PluginMethod(3, "Connection.cursor") }
    /// The `Connection.tpc_begin` call.
    @inlinable public static var connectionTpcBegin: PluginMethod { PluginMethod(4, "Connection.tpc_begin", alwaysUsesPipeline: true) }
    /// The `Connection.tpc_prepare` call.
    @inlinable public static var connectionTpcPrepare: PluginMethod { PluginMethod(5, "Connection.tpc_prepare", alwaysUsesPipeline: true) }
    /// The `Connection.tpc_commit` call.
    @inlinable public static var connectionTpcCommit: PluginMethod { PluginMethod(6, "Connection.tpc_commit", alwaysUsesPipeline: true) }
    /// The `Connection.tpc_rollback` call.
    @inlinable public static var connectionTpcRollback: PluginMethod { PluginMethod(7, "Connection.tpc_rollback", alwaysUsesPipeline: true) }
    /// The `Connection.tpc_recover` call.
    @inlinable public static var connectionTpcRecover: PluginMethod { PluginMethod(8, "Connection.tpc_recover") }
    /// The `Connection.autocommit` call.
    @inlinable public static var connectionAutocommit: PluginMethod { PluginMethod(9, "Connection.autocommit") }
    /// The `Connection.autocommit_setter` call.
    @inlinable public static var connectionAutocommitSetter: PluginMethod { PluginMethod(10, "Connection.autocommit_setter") }
    /// The `Connection.is_read_only` call.
    @inlinable public static var connectionIsReadOnly: PluginMethod { PluginMethod(11, "Connection.is_read_only") }
    /// The `Connection.set_read_only` call.
    @inlinable public static var connectionSetReadOnly: PluginMethod { PluginMethod(12, "Connection.set_read_only") }
    /// The `Connection.is_closed` call.
    @inlinable public static var connectionIsClosed: PluginMethod { PluginMethod(13, "Connection.is_closed") }
    /// The `Cursor.close` call.
    @inlinable public static var cursorClose: PluginMethod { PluginMethod(14, "Cursor.close") }
    /// The `Cursor.execute` call.
    @inlinable public static var cursorExecute: PluginMethod { PluginMethod(15, "Cursor.execute") }
    /// The `Cursor.executemany` call.
    @inlinable public static var cursorExecuteMany: PluginMethod { PluginMethod(16, "Cursor.executemany") }
    /// The `Cursor.fetchone` call.
    @inlinable public static var cursorFetchOne: PluginMethod { PluginMethod(17, "Cursor.fetchone") }
    /// The `Cursor.fetchmany` call.
    @inlinable public static var cursorFetchMany: PluginMethod { PluginMethod(18, "Cursor.fetchmany") }
    /// The `Cursor.fetchall` call.
    @inlinable public static var cursorFetchAll: PluginMethod { PluginMethod(19, "Cursor.fetchall") }
    /// The `Cursor.nextset` call.
    @inlinable public static var cursorNextSet: PluginMethod { PluginMethod(20, "Cursor.nextset") }
    /// The `Cursor.setinputsizes` call.
    @inlinable public static var cursorSetInputSizes: PluginMethod { PluginMethod(21, "Cursor.setinputsizes") }
    /// The `Cursor.setoutputsize` call.
    @inlinable public static var cursorSetOutputSize: PluginMethod { PluginMethod(22, "Cursor.setoutputsize") }
    /// The `Cursor.callproc` call.
    @inlinable public static var cursorCallProc: PluginMethod { PluginMethod(23, "Cursor.callproc") }
    /// The `Cursor.scroll` call.
    @inlinable public static var cursorScroll: PluginMethod { PluginMethod(24, "Cursor.scroll") }
    /// The `Cursor.copy_from` call.
    @inlinable public static var cursorCopyFrom: PluginMethod { PluginMethod(25, "Cursor.copy_from") }
    /// The `Cursor.copy_to` call.
    @inlinable public static var cursorCopyTo: PluginMethod { PluginMethod(26, "Cursor.copy_to") }
    /// The `Cursor.copy_expert` call.
    @inlinable public static var cursorCopyExpert: PluginMethod { PluginMethod(27, "Cursor.copy_expert") }
    /// The `Cursor.connection` call.
    @inlinable public static var cursorConnection: PluginMethod { PluginMethod(28, "Cursor.connection") }
    /// The `Cursor.rownumber` call.
    @inlinable public static var cursorRowNumber: PluginMethod { PluginMethod(29, "Cursor.rownumber") }
    /// The `Cursor.__next__` call.
    @inlinable public static var cursorNext: PluginMethod { PluginMethod(30, "Cursor.__next__") }
    /// The `Cursor.lastrowid` call.
    @inlinable public static var cursorLastRowID: PluginMethod { PluginMethod(31, "Cursor.lastrowid") }
    // Session-state calls of this library that the reference has no name for.
    /// The `Connection.isolation_level` call.
    @inlinable public static var connectionIsolationLevel: PluginMethod { PluginMethod(40, "Connection.isolation_level") }
    /// The `Connection.set_isolation_level` call.
    @inlinable public static var connectionSetIsolationLevel: PluginMethod { PluginMethod(41, "Connection.set_isolation_level") }
    /// The `Connection.schema` call.
    @inlinable public static var connectionSchema: PluginMethod { PluginMethod(42, "Connection.schema") }
    /// The `Connection.set_schema` call.
    @inlinable public static var connectionSetSchema: PluginMethod { PluginMethod(43, "Connection.set_schema") }
    /// The `Connection.ping` call.
    @inlinable public static var connectionPing: PluginMethod { PluginMethod(44, "Connection.ping") }

    // Pipeline pseudo-methods.
    /// The `connect` call.
    @inlinable public static var connect: PluginMethod { PluginMethod(32, "connect", alwaysUsesPipeline: true) }
    /// The `force_connect` call.
    @inlinable public static var forceConnect: PluginMethod { PluginMethod(33, "force_connect", alwaysUsesPipeline: true) }
    /// The `init_host_provider` call.
    @inlinable public static var initHostProvider: PluginMethod { PluginMethod(34, "init_host_provider", alwaysUsesPipeline: true) }
    /// The `notify_connection_changed` call.
    @inlinable public static var notifyConnectionChanged: PluginMethod { PluginMethod(35, "notify_connection_changed", alwaysUsesPipeline: true) }
    /// The `notify_host_list_changed` call.
    @inlinable public static var notifyHostListChanged: PluginMethod { PluginMethod(36, "notify_host_list_changed", alwaysUsesPipeline: true) }
    /// The `get_host_info_by_strategy` call.
    @inlinable public static var getHostInfoByStrategy: PluginMethod { PluginMethod(37, "get_host_info_by_strategy", alwaysUsesPipeline: true) }
    /// The `accepts_strategy` call.
    @inlinable public static var acceptsStrategy: PluginMethod { PluginMethod(38, "accepts_strategy", alwaysUsesPipeline: true) }

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
    @inlinable public static var none: PluginMethods { PluginMethods(rawValue: 0) }
    /// Every method: the reference's `"*"`.
    @inlinable public static var all: PluginMethods { PluginMethods(rawValue: .max) }
    /// The connect pipelines.
    @inlinable public static var connectMethods: PluginMethods {
        PluginMethods(rawValue: 1 << UInt64(PluginMethod.connect.id) | 1 << UInt64(PluginMethod.forceConnect.id))
    }

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
