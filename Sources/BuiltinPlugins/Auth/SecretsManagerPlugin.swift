import Foundation
import Logging
import Metrics
import WrapperCore

/// `aws_secrets_manager`: takes the database user and password from a JSON secret in AWS
/// Secrets Manager.
///
/// The secret (`secrets_manager_secret_id`, a name or an ARN) is fetched in
/// `secrets_manager_region` (default: the region of an ARN; otherwise an error), from
/// `secrets_manager_endpoint` when set, and its `secrets_manager_secret_username_key` and
/// `secrets_manager_secret_password_key` (`username`, `password`) become `user` and `password`.
/// It is cached per secret, region and endpoint for `secrets_manager_expiration` seconds (a
/// negative value means one year), shared by every connection of the runtime; a login error with
/// a cached secret fetches it once more and retries (the secret may have been rotated).
public struct SecretsManagerPlugin: Plugin, LoginPlugin {
    /// Every property the plugin reads, validated when a connection opens.
    public static let properties: [any PropertyValidating] =
        [secretIDProperty, regionProperty, endpointProperty, usernameKeyProperty, passwordKeyProperty, expirationProperty]
        + AWSProperties.all

    /// The secret's name or ARN.
    public static let secretIDProperty = PropertyDefinition<String?>.optionalString(
        "secrets_manager_secret_id", "The name or the ARN of the secret to retrieve.")
    /// The secret's region.
    public static let regionProperty = PropertyDefinition<String?>.optionalString(
        "secrets_manager_region", "The region of the secret to retrieve (default: the region of an ARN secret id).")
    /// An endpoint URL instead of the region's.
    public static let endpointProperty = PropertyDefinition<String?>.optionalString(
        "secrets_manager_endpoint", "The endpoint of the secret to retrieve.")
    /// The JSON key of the user name.
    public static let usernameKeyProperty = PropertyDefinition<String>.string(
        "secrets_manager_secret_username_key", default: "username", "The key of the secret to retrieve, which contains the username.")
    /// The JSON key of the password.
    public static let passwordKeyProperty = PropertyDefinition<String>.string(
        "secrets_manager_secret_password_key", default: "password", "The key of the secret to retrieve, which contains the password.")
    /// How long a secret is reused.
    public static let expirationProperty = PropertyDefinition<Int>.int(
        "secrets_manager_expiration", default: 31_536_000, in: Int(Int32.min)...Int(Int32.max),
        "Secret cache expiration in seconds (negative: one year).")

    let source: AWSCredentialSource
    var now: @Sendable () -> Date { source.now }

    /// Creates the plugin.
    /// - Parameters:
    ///   - environment: Where the default credential chain looks.
    ///   - credentials: Credentials to use instead of the chain.
    ///   - now: The clock of the cache (for tests).
    public init(
        environment: AWSEnvironment = .process, credentials: (any AWSCredentialsProvider)? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.source = AWSCredentialSource(environment: environment, provider: credentials, now: now)
    }

    /// Which secret, where.
    struct Location {
        var secretID: String
        var region: String
        var endpoint: URL
        var cacheKey: String { "\(secretID)|\(region)|\(endpoint.absoluteString)" }
    }

    func location(_ properties: Properties) throws -> Location {
        guard let id = try properties.value(Self.secretIDProperty), !id.isEmpty else {
            throw WrapperError(.missingProperty, "aws_secrets_manager needs secrets_manager_secret_id: the name or ARN of the secret.")
        }
        guard let region = try properties.value(Self.regionProperty) ?? Self.region(ofARN: id) else {
            throw AWSAuthError(
                .missingRegion, "No region for the secret \(id): set secrets_manager_region, or use the secret's ARN as secrets_manager_secret_id.")
        }
        let address = try properties.value(Self.endpointProperty) ?? source.environment.endpointOverride(service: "SECRETS_MANAGER")
            ?? SecretsManagerClient.defaultEndpoint(region: region)
        guard let endpoint = URL(string: address), endpoint.scheme == "http" || endpoint.scheme == "https", endpoint.host != nil else {
            throw WrapperError(.invalidProperty, "secrets_manager_endpoint must be an http(s) URL such as https://secretsmanager.us-east-1.amazonaws.com.")
        }
        return Location(secretID: id, region: region, endpoint: endpoint)
    }

    /// The region of `arn:aws:secretsmanager:<region>:...`.
    static func region(ofARN id: String) -> String? {
        let parts = id.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 7, parts[0] == "arn", parts[1].hasPrefix("aws"), parts[2] == "secretsmanager", !parts[3].isEmpty else {
            return nil
        }
        return String(parts[3])
    }

    func login(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        let properties = request.properties
        let location = try location(properties)
        let caches = AWSAuthCaches.of(service.runtime)
        if let cached = caches.secret(for: location.cacheKey, now: now()) {
            do {
                return try next(with(cached, request), service)
            } catch where service.isLoginError(error) {
                service.logger.debug("Login with the cached secret failed; fetching it again", metadata: ["secret": "\(location.secretID)"])
                caches.removeSecret(for: location.cacheKey)
            }
        }
        let secret = try fetch(location, properties: properties, caches: caches, service: service)
        var lifetime = TimeInterval(try properties.value(Self.expirationProperty))
        if lifetime < 0 { lifetime = 365 * 24 * 3600 }
        caches.storeSecret(secret, for: location.cacheKey, until: now().addingTimeInterval(lifetime))
        return try next(with(secret, request), service)
    }

    private func with(_ secret: DatabaseCredentials, _ request: ConnectRequest) -> ConnectRequest {
        var request = request
        request.properties.set(WrapperProperties.user, secret.user)
        request.properties.set(WrapperProperties.password, secret.password)
        return request
    }

    func fetch(_ location: Location, properties: Properties, caches: AWSAuthCaches, service: PluginService) throws -> DatabaseCredentials {
        let credentials = try source.credentials(properties: properties, caches: caches)
        let client = SecretsManagerClient(
            endpoint: location.endpoint, region: location.region,
            http: AWSHTTPClient(timeout: .milliseconds(try properties.value(AWSProperties.requestTimeout))))
        service.logger.debug("Fetching database credentials from Secrets Manager", metadata: [
            "secret": "\(location.secretID)", "region": "\(location.region)",
        ])
        let text = try client.secretString(id: location.secretID, credentials: credentials, date: now())
        Counter(label: "secrets_manager.fetch_credentials.count").increment()
        return try Self.decode(text, secretID: location.secretID, usernameKey: try properties.value(Self.usernameKeyProperty),
            passwordKey: try properties.value(Self.passwordKeyProperty))
    }

    /// User and password from the secret's JSON; errors name keys, never values.
    static func decode(_ text: String, secretID: String, usernameKey: String, passwordKey: String) throws -> DatabaseCredentials {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw AWSAuthError(
                .malformedSecret, "The secret \(secretID) is not a JSON object: store {\"\(usernameKey)\": ..., \"\(passwordKey)\": ...}.")
        }
        func string(_ key: String, property: String) throws -> String {
            guard let value = object[key] else {
                let present = object.keys.sorted().joined(separator: ", ")
                throw AWSAuthError(
                    .missingSecretKey,
                    "The secret \(secretID) has no key \"\(key)\" (it has: \(present.isEmpty ? "none" : present)); set \(property) to the right key.")
            }
            guard let text = value as? String else {
                throw AWSAuthError(.malformedSecret, "The value of \"\(key)\" in the secret \(secretID) is not a string.")
            }
            return text
        }
        return DatabaseCredentials(
            user: try string(usernameKey, property: "secrets_manager_secret_username_key"),
            password: try string(passwordKey, property: "secrets_manager_secret_password_key"))
    }
}
