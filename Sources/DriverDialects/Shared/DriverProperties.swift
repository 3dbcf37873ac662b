import Foundation
import WrapperCore

/// TLS modes, from weakest to strictest, with libpq's names.
public enum TLSMode: String, Sendable, CaseIterable {
    /// No TLS.
    case disable
    /// TLS if the server offers it.
    case prefer
    /// TLS required, the certificate not checked.
    case require
    /// TLS required, the certificate checked against `ssl_ca`.
    case verifyCA = "verify-ca"
    /// TLS required, the certificate and the host name checked.
    case verifyFull = "verify-full"
}

/// Properties the driver dialects read, beside the core's connection properties.
public enum DriverProperties {
    /// How TLS is used.
    public static let sslMode = PropertyDefinition<TLSMode>(
        "ssl_mode", default: .prefer,
        description: "TLS mode: disable, prefer, require, verify-ca or verify-full.",
        expectation: "one of disable, prefer, require, verify-ca, verify-full",
        parse: { TLSMode(rawValue: $0.lowercased().replacingOccurrences(of: "_", with: "-")) }, format: { $0.rawValue })
    /// The CA certificate file that verifies the server.
    public static let sslCA = PropertyDefinition<String?>.optionalString(
        "ssl_ca", "Path of the CA certificate (PEM) that signed the server's certificate.")
    /// A client certificate file.
    public static let sslCert = PropertyDefinition<String?>.optionalString(
        "ssl_cert", "Path of a client certificate (PEM).")
    /// The client certificate's key file.
    public static let sslKey = PropertyDefinition<String?>.optionalString(
        "ssl_key", "Path of the client certificate's private key (PEM).")
    /// Whether the MySQL cleartext authentication plugin may send the password (RDS IAM needs it;
    /// the `iam` plugin turns it on together with TLS).
    public static let enableCleartextPlugin = PropertyDefinition<Bool>.bool(
        "enable_cleartext_plugin", default: false,
        "Allow the mysql_clear_password authentication plugin (needed by RDS IAM for MySQL; only over TLS).")
    /// The application name reported to the server.
    public static let applicationName = PropertyDefinition<String>.string(
        "application_name", default: "swift-advanced-wrapper", "The application name reported to the server.")
}

extension DriverProperties {
    /// Puts `token` in place of the password and raises the TLS mode to at least `require`:
    /// a token is a bearer credential and RDS refuses IAM logins without TLS.
    static func applyToken(_ token: String, to properties: inout Properties) {
        properties.set(WrapperProperties.password, token)
        let mode = (try? properties.value(sslMode)) ?? .prefer
        if mode == .disable || mode == .prefer { properties.set(sslMode, .require) }
    }
}
