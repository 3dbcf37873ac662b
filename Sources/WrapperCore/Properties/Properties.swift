/// The key/value configuration of one connection: wrapper properties and driver properties together.
///
/// Keys are case-sensitive, as in the reference. Typed access goes through a ``PropertyDefinition``,
/// which applies the default and reports an invalid value with a ``WrapperError`` that names the
/// property and what it expects. ``description`` masks sensitive values.
public struct Properties: Sendable, Hashable, CustomStringConvertible, ExpressibleByDictionaryLiteral {
    /// The raw entries.
    public var entries: [String: String]

    /// Creates properties from raw entries.
    public init(_ entries: [String: String] = [:]) { self.entries = entries }

    /// Creates properties from a literal.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.entries = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }

    /// The raw value of a key.
    public subscript(key: String) -> String? {
        get { entries[key] }
        set { entries[key] = newValue }
    }

    /// The typed value of a definition: the parsed value, or the default when the key is absent.
    ///
    /// - Throws: ``WrapperError`` (``WrapperError/Code/invalidProperty``) naming the property and the
    ///   expected form, when the value cannot be parsed. The rejected value is shown unless the key
    ///   is sensitive.
    public func value<Value>(_ definition: PropertyDefinition<Value>) throws -> Value {
        guard let raw = entries[definition.name] else { return definition.defaultValue }
        return try definition.parse(raw)
    }

    /// Sets a typed value, formatted the way ``value(_:)`` reads it back.
    public mutating func set<Value>(_ definition: PropertyDefinition<Value>, _ value: Value) {
        entries[definition.name] = definition.format(value)
    }

    /// Whether the key is present.
    public func contains(_ key: String) -> Bool { entries[key] != nil }

    /// These properties with `other`'s entries taking precedence.
    public func merging(_ other: Properties) -> Properties {
        Properties(entries.merging(other.entries, uniquingKeysWith: { _, new in new }))
    }

    /// The properties for a monitoring connection: entries whose key starts with `prefix` override
    /// the base entry of the same name (prefix removed), and every prefixed key is dropped.
    public func overridden(byPrefix prefix: String) -> Properties {
        var result = entries.filter { !$0.key.hasPrefix(prefix) }
        for (key, value) in entries where key.hasPrefix(prefix) {
            result[String(key.dropFirst(prefix.count))] = value
        }
        return Properties(result)
    }

    public var description: String {
        let shown = entries.keys.sorted().map { key in
            // A value of another key may still carry a secret (a URL with a password in it).
            SecretRedactor.isSensitive(key: key) ? "\(key)=***" : "\(key)=\(SecretRedactor.redact(entries[key]!))"
        }
        return "[" + shown.joined(separator: ", ") + "]"
    }
}

/// A typed wrapper property: its name, default, description and how its text is parsed.
public struct PropertyDefinition<Value: Sendable>: Sendable {
    /// The property key.
    public let name: String
    /// The value used when the key is absent.
    public let defaultValue: Value
    /// What the property does, for documentation and error messages.
    public let description: String
    /// What a valid value looks like, for error messages ("an integer ≥ 0").
    public let expectation: String
    private let parser: @Sendable (String) -> Value?
    private let formatter: @Sendable (Value) -> String

    /// Creates a definition with a custom parser.
    public init(
        _ name: String, default defaultValue: Value, description: String, expectation: String,
        parse: @escaping @Sendable (String) -> Value?, format: @escaping @Sendable (Value) -> String
    ) {
        self.name = name
        self.defaultValue = defaultValue
        self.description = description
        self.expectation = expectation
        self.parser = parse
        self.formatter = format
    }

    /// Parses a raw value.
    public func parse(_ raw: String) throws -> Value {
        guard let value = parser(raw.trimmingWhitespace()) else {
            let shown = SecretRedactor.isSensitive(key: name) ? "" : " '\(Self.echo(raw))'"
            throw WrapperError(
                .invalidProperty,
                "Property '\(name)' has an invalid value\(shown): expected \(expectation). \(description)")
        }
        return value
    }

    /// Formats a value as property text.
    public func format(_ value: Value) -> String { formatter(value) }

    /// A rejected value as an error message may show it: short, and with anything that looks
    /// like a secret (`x;password=...`) masked.
    static func echo(_ raw: String) -> String {
        // Redacted whole before it is shortened: a cut could hide the '@' that marks a URL password.
        let redacted = SecretRedactor.redact(raw)
        return redacted.count > 64 ? String(redacted.prefix(64)) + "…" : redacted
    }
}

/// A property whose value can be checked without using it, so that a plugin's settings are
/// validated when a connection opens rather than when the plugin first needs them.
public protocol PropertyValidating: Sendable {
    /// The property key.
    var name: String { get }
    /// Throws the property's ``WrapperError/Code/invalidProperty`` error when its value in
    /// `properties` is invalid; does nothing when it is absent or valid.
    func validate(in properties: Properties) throws
}

extension PropertyDefinition: PropertyValidating {
    public func validate(in properties: Properties) throws { _ = try properties.value(self) }
}

/// A property read under a prefix (`monitoring-connect_timeout` for `connect_timeout`), validated
/// by the unprefixed definition.
public struct PrefixedProperty<Value: Sendable>: PropertyValidating {
    /// The prefix, such as `monitoring-`.
    public let prefix: String
    /// The definition the value must satisfy.
    public let definition: PropertyDefinition<Value>

    /// Creates the prefixed form of `definition`.
    public init(prefix: String, _ definition: PropertyDefinition<Value>) {
        self.prefix = prefix
        self.definition = definition
    }

    public var name: String { prefix + definition.name }

    public func validate(in properties: Properties) throws {
        guard let raw = properties[name] else { return }
        do { _ = try definition.parse(raw) } catch var error as WrapperError {
            error.message = "Property '\(name)': " + error.message
            throw error
        }
    }
}

extension PropertyDefinition where Value == Bool {
    /// A boolean property: `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`), case-insensitive.
    public static func bool(_ name: String, default value: Bool, _ description: String) -> Self {
        Self(name, default: value, description: description, expectation: "true or false",
             parse: parseBool, format: { $0 ? "true" : "false" })
    }
}

extension PropertyDefinition where Value == Bool? {
    /// An optional boolean property.
    public static func optionalBool(_ name: String, _ description: String) -> Self {
        Self(name, default: nil, description: description, expectation: "true or false",
             parse: { parseBool($0).map(Optional.some) }, format: { $0.map { $0 ? "true" : "false" } ?? "" })
    }
}

extension PropertyDefinition where Value == Int {
    /// An integer property within a range.
    public static func int(
        _ name: String, default value: Int, in range: ClosedRange<Int> = Int.min...Int.max, _ description: String
    ) -> Self {
        Self(name, default: value, description: description, expectation: rangeText(range),
             parse: { Int($0).flatMap { range.contains($0) ? $0 : nil } }, format: { String($0) })
    }
}

extension PropertyDefinition where Value == Int? {
    /// An optional integer property within a range.
    public static func optionalInt(
        _ name: String, in range: ClosedRange<Int> = Int.min...Int.max, _ description: String
    ) -> Self {
        Self(name, default: nil, description: description, expectation: rangeText(range),
             parse: { Int($0).flatMap { range.contains($0) ? .some($0) : nil } }, format: { $0.map(String.init) ?? "" })
    }
}

extension PropertyDefinition where Value == Double? {
    /// An optional number of seconds (fractions allowed), at least zero.
    public static func optionalSeconds(_ name: String, _ description: String) -> Self {
        Self(name, default: nil, description: description, expectation: "a number of seconds from 0 to 1000000",
             parse: { Double($0).flatMap { $0 >= 0 && $0 <= 1_000_000 ? .some($0) : nil } },
             format: { $0.map { String($0) } ?? "" })
    }
}

extension PropertyDefinition where Value == String {
    /// A text property.
    public static func string(_ name: String, default value: String, _ description: String) -> Self {
        Self(name, default: value, description: description, expectation: "text", parse: { $0 }, format: { $0 })
    }
}

extension PropertyDefinition where Value == String? {
    /// An optional text property.
    public static func optionalString(_ name: String, _ description: String) -> Self {
        Self(name, default: nil, description: description, expectation: "text", parse: { .some($0) },
             format: { $0 ?? "" })
    }
}

@Sendable
private func parseBool(_ text: String) -> Bool? {
    switch text.lowercased() {
    case "true", "1", "yes", "on": true
    case "false", "0", "no", "off": false
    default: nil
    }
}

private func rangeText(_ range: ClosedRange<Int>) -> String {
    switch (range.lowerBound, range.upperBound) {
    case (Int.min, Int.max): "an integer"
    case (let low, Int.max): "an integer ≥ \(low)"
    case (Int.min, let high): "an integer ≤ \(high)"
    case (let low, let high): "an integer from \(low) to \(high)"
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var slice = self[...]
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}

extension Properties: CustomDebugStringConvertible, CustomReflectable {
    /// The same as ``description``: sensitive values show as `***`.
    public var debugDescription: String { description }

    /// A mirror with sensitive values masked, for `dump` and debuggers.
    public var customMirror: Mirror {
        let masked = entries.map { key, value in (key, SecretRedactor.isSensitive(key: key) ? "***" : SecretRedactor.redact(value)) }
        return Mirror(self, children: masked.sorted { $0.0 < $1.0 }.map { (label: $0.0 as String?, value: $0.1 as Any) })
    }
}
