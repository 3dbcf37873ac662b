import Foundation
import WrapperCore

/// Which hosts failover may move a connection to.
public enum FailoverMode: String, Sendable, Hashable, CaseIterable {
    /// Only the (new) writer.
    case strictWriter = "strict_writer"
    /// Only a reader (the writer only when no reader exists).
    case strictReader = "strict_reader"
    /// A reader if one answers, else the writer.
    case readerOrWriter = "reader_or_writer"

    /// `failover_mode`: `strict_writer`, `strict_reader` or `reader_or_writer`, with `_` or `-`,
    /// any case. Unlike the reference, an unknown value is an error rather than `reader_or_writer`.
    /// Absent: `reader_or_writer` for a reader cluster endpoint (`cluster-ro-`), else `strict_writer`.
    public static let property = PropertyDefinition<FailoverMode?>(
        "failover_mode", default: nil,
        description: "Decide which host role (writer, reader, or either) the connection should failover to. "
            + "One of strict_writer, strict_reader, reader_or_writer.",
        expectation: "one of strict_writer, strict_reader, reader_or_writer (or strict-writer, strict-reader, reader-or-writer)",
        parse: { raw -> FailoverMode?? in
            // `.none` rejects the value; `.some(mode)` accepts it.
            guard let mode = FailoverMode(rawValue: raw.lowercased().replacingOccurrences(of: "-", with: "_")) else { return .none }
            return .some(mode)
        },
        format: { $0?.rawValue ?? "" })

    /// The mode for `properties` connecting first to `host`.
    public static func of(_ properties: Properties, initialHost: String?) throws -> FailoverMode {
        if let explicit = try properties.value(property) { return explicit }
        return initialHost.map(RdsURL.type(of:)) == .readerCluster ? .readerOrWriter : .strictWriter
    }
}
