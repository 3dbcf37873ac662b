import Foundation
import Logging
import Metrics
import WrapperCore

/// `iam`: logs in with an RDS IAM authentication token instead of a password.
///
/// The token is signed for `iam_host` (default: the host connected to, which must be an RDS
/// name), the port (`iam_default_port` when > 0, else the host's, else the driver's default) and
/// `user`, in `iam_region` (default: the region in the host name), with credentials from the AWS
/// credential chain (``AWSCredentialsChain``). Tokens are cached per region, host, port and user
/// for `iam_expiration` seconds (at most the 15 minutes a token is valid), shared by every
/// connection of the runtime. TLS is enforced (`ssl_mode` at least `require`) and MySQL gets the
/// cleartext authentication plugin RDS IAM needs. A login error with a cached token renews it
/// once and retries.
public struct IamAuthPlugin: Plugin, LoginPlugin {
    /// Every property the plugin reads, validated when a connection opens.
    public static let properties: [any PropertyValidating] =
        [hostProperty, defaultPortProperty, regionProperty, expirationProperty] + AWSProperties.all

    /// The host name the token is signed for.
    public static let hostProperty = PropertyDefinition<String?>.optionalString(
        "iam_host", "Overrides the host that is used to generate the IAM token.")
    /// The port the token is signed for.
    public static let defaultPortProperty = PropertyDefinition<Int>.int(
        "iam_default_port", default: 0, in: 0...65535, "Overrides default port that is used to generate the IAM token.")
    /// The region the token is signed in.
    public static let regionProperty = PropertyDefinition<String?>.optionalString(
        "iam_region", "Overrides AWS region that is used to generate the IAM token.")
    /// How long a token is reused.
    public static let expirationProperty = PropertyDefinition<Int>.int(
        "iam_expiration", default: 900, in: 1...900,
        "IAM token cache expiration in seconds (a token is valid for at most 900 seconds).")

    /// Tokens are renewed this long before their cache expiry, so a login never uses one that is
    /// about to lapse.
    static let renewalMargin: TimeInterval = 30

    let source: AWSCredentialSource
    var now: @Sendable () -> Date { source.now }

    /// Creates the plugin.
    /// - Parameters:
    ///   - environment: Where the default credential chain looks.
    ///   - credentials: Credentials to use instead of the chain.
    ///   - now: The clock that dates tokens (for tests).
    public init(
        environment: AWSEnvironment = .process, credentials: (any AWSCredentialsProvider)? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.source = AWSCredentialSource(environment: environment, provider: credentials, now: now)
    }

    /// Where a token is signed for, read from the request.
    struct Target {
        var host: String
        var port: Int
        var region: String
        var user: String
        var cacheKey: String { "\(region):\(host):\(port):\(user)" }
    }

    func target(of request: ConnectRequest, service: PluginService) throws -> Target {
        let properties = request.properties
        let host = try properties.value(Self.hostProperty) ?? request.host.host
        let type = RdsURL.type(of: host)
        guard type.isRds else {
            throw AWSAuthError(
                .invalidHost,
                "IAM authentication needs an RDS host name, not \(type == .ipAddress ? "an IP address" : "'\(host)'"). "
                    + "Connect through the RDS endpoint, or set iam_host to it.")
        }
        guard let region = try properties.value(Self.regionProperty) ?? (type.hasRegion ? RdsURL.region(of: host) : nil) else {
            throw AWSAuthError(.missingRegion, "No AWS region for IAM authentication to \(host): set iam_region.")
        }
        guard let user = try properties.value(WrapperProperties.user), !user.isEmpty else {
            throw WrapperError(.missingProperty, "IAM authentication needs the database user: set user.")
        }
        let overridePort = try properties.value(Self.defaultPortProperty)
        let port = overridePort > 0 ? overridePort : (request.host.isPortSpecified ? request.host.port : service.driver.defaultPort)
        return Target(host: host, port: port, region: region, user: user)
    }

    func login(_ request: ConnectRequest, service: PluginService, next: ConnectNext) throws -> any DriverConnection {
        let target = try target(of: request, service: service)
        let caches = AWSAuthCaches.of(service.runtime)
        let lifetime = TimeInterval(try request.properties.value(Self.expirationProperty))
        if let cached = caches.token(for: target.cacheKey, now: now()) {
            do {
                return try next(withToken(cached, request, service), service)
            } catch where service.isLoginError(error) {
                service.logger.debug("IAM login with a cached token failed; renewing it once", metadata: ["host": "\(target.host)"])
                caches.removeToken(for: target.cacheKey)
            }
        }
        let token = try generate(target, request: request, service: service, caches: caches)
        let issued = now()
        caches.storeToken(token, for: target.cacheKey, until: issued.addingTimeInterval(max(1, lifetime - Self.renewalMargin)))
        Counter(label: "iam.fetch_token.count").increment()
        return try next(withToken(token, request, service), service)
    }

    private func withToken(_ token: String, _ request: ConnectRequest, _ service: PluginService) -> ConnectRequest {
        var request = request
        service.driver.applyAuthenticationToken(token, to: &request.properties)
        return request
    }

    private func generate(_ target: Target, request: ConnectRequest, service: PluginService, caches: AWSAuthCaches) throws -> String {
        let credentials = try source.credentials(properties: request.properties, caches: caches)
        service.logger.debug("Generating an IAM token", metadata: [
            "host": "\(target.host)", "port": "\(target.port)", "region": "\(target.region)", "user": "\(target.user)",
        ])
        return RdsAuthToken.generate(
            host: target.host, port: target.port, user: target.user, region: target.region, credentials: credentials, date: now())
    }
}
