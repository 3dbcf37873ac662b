/// Why the current connection changed, as told to ``Plugin/notifyConnectionChanged(_:service:)``.
public enum ConnectionEvent: Sendable, Hashable {
    /// The first connection of a wrapper connection was set.
    case initialConnection
    /// The physical connection was replaced by another.
    case connectionObjectChanged
}

/// What changed about one host between two host lists.
public enum HostEvent: Sendable, Hashable {
    /// Host or port changed.
    case urlChanged
    /// The host became the writer.
    case convertedToWriter
    /// The host became a reader.
    case convertedToReader
    /// The host became available.
    case wentUp
    /// The host became unavailable.
    case wentDown
    /// The host appeared.
    case hostAdded
    /// The host disappeared.
    case hostDeleted
    /// Anything about the host changed.
    case hostChanged
}

/// What a plugin suggests doing with the old physical connection after a switch.
///
/// Suggestions of all plugins are merged: ``preserve`` beats ``dispose``, which beats ``noOpinion``.
public enum OldConnectionSuggestedAction: Sendable, Hashable {
    /// The plugin does not care.
    case noOpinion
    /// Close the old connection.
    case dispose
    /// Keep the old connection open (a plugin caches it).
    case preserve

    /// The merge of two suggestions.
    @inlinable
    public func merged(with other: OldConnectionSuggestedAction) -> OldConnectionSuggestedAction {
        if self == .preserve || other == .preserve { return .preserve }
        if self == .dispose || other == .dispose { return .dispose }
        return .noOpinion
    }
}

/// The difference between two host lists, keyed by ``HostInfo/url``.
public typealias HostListChanges = [String: Set<HostEvent>]

extension HostInfo {
    /// The events that turn `old` into `new` (empty when nothing changed).
    public static func events(from old: HostInfo, to new: HostInfo) -> Set<HostEvent> {
        var events: Set<HostEvent> = []
        if old.host != new.host || old.port != new.port { events.insert(.urlChanged) }
        if old.role != new.role {
            if new.role == .writer { events.insert(.convertedToWriter) }
            if new.role == .reader { events.insert(.convertedToReader) }
        }
        if old.availability != new.availability {
            events.insert(new.availability == .available ? .wentUp : .wentDown)
        }
        if !events.isEmpty { events.insert(.hostChanged) }
        return events
    }

    /// The diff between two host lists, as the reference computes it.
    public static func changes(from old: [HostInfo], to new: [HostInfo]) -> HostListChanges {
        var changes: HostListChanges = [:]
        let newByURL = Dictionary(new.map { ($0.url, $0) }, uniquingKeysWith: { first, _ in first })
        let oldByURL = Dictionary(old.map { ($0.url, $0) }, uniquingKeysWith: { first, _ in first })
        for (url, oldHost) in oldByURL {
            if let newHost = newByURL[url] {
                let events = events(from: oldHost, to: newHost)
                if !events.isEmpty { changes[url] = events }
            } else {
                changes[url] = [.hostDeleted]
            }
        }
        for url in newByURL.keys where oldByURL[url] == nil { changes[url] = [.hostAdded] }
        return changes
    }
}
