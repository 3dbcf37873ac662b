import Foundation
import Glibc

/// What kind of endpoint a host name is, as the reference classifies RDS and Aurora names.
public enum RdsURLType: String, Sendable, Hashable, CaseIterable {
    /// `<cluster>.cluster-<id>.<region>.rds.amazonaws.com`: follows the writer.
    case writerCluster
    /// `<cluster>.cluster-ro-<id>...`: spreads over the readers.
    case readerCluster
    /// `<endpoint>.cluster-custom-<id>...`.
    case customCluster
    /// `<instance>.<id>.<region>.rds.amazonaws.com`: one instance.
    case instance
    /// `<proxy>.proxy-<id>...`.
    case proxy
    /// `<group>.shardgrp-<id>...`: an Aurora Limitless shard group.
    case limitless
    /// `<cluster>.global-<id>.global.rds.amazonaws.com`: an Aurora Global writer.
    case globalWriterCluster
    /// An IPv4 or IPv6 address.
    case ipAddress
    /// Any other name.
    case other

    /// Whether the name is an RDS name.
    public var isRds: Bool { ![.ipAddress, .other].contains(self) }
    /// Whether the name is a cluster endpoint (writer, reader, custom or global).
    public var isRdsCluster: Bool { [.writerCluster, .readerCluster, .customCluster, .globalWriterCluster].contains(self) }
    /// Whether the name carries a region.
    public var hasRegion: Bool { isRds && self != .globalWriterCluster }
}

/// Parsing of RDS host names: their kind, region, cluster and instance ids, and the instance name
/// pattern of their cluster.
public enum RdsURL {
    /// The parts of an RDS name.
    public struct Parts: Sendable, Hashable {
        /// The first label(s): cluster, instance, proxy or endpoint name.
        public var instance: String
        /// The endpoint kind prefix (`cluster-`, `cluster-ro-`, ...), if any.
        public var dnsPrefix: String?
        /// Everything after the prefix: `<id>.<region>.rds.amazonaws.com`.
        public var domain: String
        /// The region.
        public var region: String
    }

    nonisolated(unsafe) private static let patterns: [Regex<AnyRegexOutput>] = [
        #"^(?<instance>.+)\.(?<dns>proxy-|cluster-|cluster-ro-|cluster-custom-|shardgrp-|global-)?(?<domain>[a-zA-Z0-9]+\.(?<region>[a-zA-Z0-9\-]+)\.rds\.amazonaws\.com)$"#,
        #"^(?<instance>.+)\.(?<dns>proxy-|cluster-|cluster-ro-|cluster-custom-|shardgrp-)?(?<domain>[a-zA-Z0-9]+\.rds\.(?<region>[a-zA-Z0-9\-]+)\.amazonaws\.com\.cn)$"#,
        #"^(?<instance>.+)\.(?<dns>proxy-|cluster-|cluster-ro-|cluster-custom-|shardgrp-)?(?<domain>[a-zA-Z0-9]+\.(?<region>[a-zA-Z0-9\-]+)\.rds\.amazonaws\.com\.cn)$"#,
        #"^(?<instance>.+)\.(?<dns>proxy-|cluster-|cluster-ro-|cluster-custom-|shardgrp-)?(?<domain>[a-zA-Z0-9]+\.rds\.(?<region>[a-zA-Z0-9\-]+)\.(amazonaws\.com|c2s\.ic\.gov|sc2s\.sgov\.gov))$"#,
    ].map { try! Regex($0) }  // Literal patterns: checked by the tests.

    /// The parts of an RDS name, or `nil` for other names.
    public static func parts(of host: String) -> Parts? {
        let lower = host.lowercased()
        for pattern in patterns {
            guard let match = try? pattern.wholeMatch(in: lower) else { continue }
            func group(_ name: String) -> String? {
                match[name]?.substring.map(String.init)
            }
            guard let instance = group("instance"), let domain = group("domain"), let region = group("region") else { continue }
            return Parts(instance: instance, dnsPrefix: group("dns"), domain: domain, region: region)
        }
        return nil
    }

    /// Whether `host` is an IPv4 or IPv6 address.
    public static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// The kind of endpoint `host` names.
    public static func type(of host: String) -> RdsURLType {
        if host.isEmpty { return .other }
        if isIPAddress(host) { return .ipAddress }
        guard let parts = parts(of: host) else { return .other }
        switch parts.dnsPrefix {
        case "global-": return .globalWriterCluster
        case "cluster-": return .writerCluster
        case "cluster-ro-": return .readerCluster
        case "shardgrp-": return .limitless
        case "cluster-custom-": return .customCluster
        case "proxy-": return .proxy
        default: return .instance
        }
    }

    /// The region in an RDS name.
    public static func region(of host: String) -> String? {
        guard type(of: host).hasRegion else { return nil }
        return parts(of: host)?.region
    }

    /// The pattern of the instance names of `host`'s cluster: `?.<domain>`.
    public static func instanceHostPattern(of host: String) -> String? {
        parts(of: host).map { "?." + $0.domain }
    }

    /// The writer cluster endpoint of a reader cluster endpoint; other names unchanged.
    public static func clusterHost(of host: String) -> String {
        guard type(of: host) == .readerCluster, let parts = parts(of: host) else { return host }
        return "\(parts.instance).cluster-\(parts.domain)"
    }

    /// The cluster id of a cluster, proxy or custom endpoint.
    public static func clusterID(of host: String) -> String? {
        guard let parts = parts(of: host), parts.dnsPrefix != nil else { return nil }
        return parts.instance
    }

    /// The instance id of an instance endpoint.
    public static func instanceID(of host: String) -> String? {
        guard let parts = parts(of: host), parts.dnsPrefix == nil else { return nil }
        return parts.instance
    }
}

/// `cluster_instance_host_pattern`: how an instance id becomes a host name, `?` standing for the id.
public struct InstanceHostPattern: Sendable, Hashable {
    /// The pattern, for example `?.cluster-xyz.us-east-1.rds.amazonaws.com` or `?`.
    public let host: String
    /// A port given in the pattern.
    public let port: Int?

    /// The property that sets the pattern.
    public static let property = PropertyDefinition<String?>.optionalString(
        "cluster_instance_host_pattern",
        "The cluster instance DNS pattern that will be used to build a complete instance endpoint. A \"?\" character in this pattern should be used as a placeholder for cluster instance names.")

    /// Validates `cluster_instance_host_pattern` when a connection opens.
    public static let validatingProperty: any PropertyValidating = PatternValidation()

    private struct PatternValidation: PropertyValidating {
        var name: String { InstanceHostPattern.property.name }
        func validate(in properties: Properties) throws {
            if let text = try properties.value(InstanceHostPattern.property) { _ = try InstanceHostPattern(text) }
        }
    }

    /// Parses and validates a pattern.
    ///
    /// - Throws: ``WrapperError`` (``WrapperError/Code/invalidProperty``) when it has no `?`, names a
    ///   proxy or custom cluster endpoint, or has a bad port.
    public init(_ text: String) throws {
        var host = text.trimmingWhitespace()
        var port: Int?
        if let colon = host.lastIndex(of: ":"), !host.hasPrefix("[") {
            guard let value = Int(host[host.index(after: colon)...]), (1...65535).contains(value) else {
                throw WrapperError(.invalidProperty, "cluster_instance_host_pattern '\(text)' has an invalid port: write ?.domain[:port] with a port from 1 to 65535.")
            }
            port = value
            host = String(host[..<colon])
        }
        guard host.contains("?") else {
            throw WrapperError(.invalidProperty, "cluster_instance_host_pattern '\(text)' has no '?': the '?' stands for the instance id, as in ?.cluster-xyz.us-east-1.rds.amazonaws.com.")
        }
        let sample = host.replacingOccurrences(of: "?", with: "instance")
        switch RdsURL.type(of: sample) {
        case .proxy:
            throw WrapperError(.invalidProperty, "cluster_instance_host_pattern '\(text)' is a proxy endpoint; give the pattern of the instance endpoints.")
        case .customCluster:
            throw WrapperError(.invalidProperty, "cluster_instance_host_pattern '\(text)' is a custom cluster endpoint; give the pattern of the instance endpoints.")
        default:
            break
        }
        self.host = host
        self.port = port
    }

    /// The host of an instance.
    public func host(forInstance id: String) -> String { host.replacingOccurrences(of: "?", with: id) }
}
