/// The session settings the user changed on a wrapper connection, with their values before the
/// first change ("pristine"), so they can be carried to a new physical connection on a switch and
/// undone on the old one before it is closed.
public struct SessionState: Sendable, Hashable {
    /// Current values, by kind, of settings the user changed.
    public private(set) var values: [SessionValueKind: SessionValue] = [:]
    /// Values before the user's first change, by kind.
    public private(set) var pristine: [SessionValueKind: SessionValue] = [:]

    /// Creates an empty state.
    public init() {}

    /// Whether the pristine value of `kind` is known.
    public func hasPristine(_ kind: SessionValueKind) -> Bool { pristine[kind] != nil }

    /// Records the value before the first change.
    public mutating func setPristine(_ value: SessionValue) {
        if pristine[value.kind] == nil { pristine[value.kind] = value }
    }

    /// Records a change the user made.
    public mutating func set(_ value: SessionValue) { values[value.kind] = value }

    /// Forgets everything (a fresh connection).
    public mutating func reset() {
        values = [:]
        pristine = [:]
    }

    /// The settings that differ from pristine, to apply to a new connection.
    public var changedValues: [SessionValue] {
        SessionValueKind.allCases.compactMap { kind in
            guard let value = values[kind], value != pristine[kind] else { return nil }
            return value
        }
    }

    /// The pristine values of changed settings, to restore on an old connection.
    public var pristineValuesToRestore: [SessionValue] {
        SessionValueKind.allCases.compactMap { kind in
            guard let value = values[kind], let original = pristine[kind], value != original else { return nil }
            return original
        }
    }
}
