import Crypto
import Foundation
import WrapperCore

/// AWS credentials for signing.
public struct AWSCredentials: Sendable, Hashable, CustomStringConvertible {
    /// The access key id.
    public var accessKeyID: String
    /// The secret access key; never shown.
    public var secretAccessKey: String
    /// The session token of temporary credentials; never shown.
    public var sessionToken: String?

    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String { "AWSCredentials(accessKeyID: \(accessKeyID), secret: ***)" }
}

/// The RDS IAM authentication token: a SigV4 query-presigned `connect` action for
/// `host:port` and a database user, valid for 15 minutes, identical to botocore's
/// `generate_db_auth_token` for the same credentials and time.
///
/// This is the signing part of the `iam` plugin (issue 5), not the plugin itself: the credential
/// chain and the plugin are not built yet.
public enum RdsAuthToken {
    /// Generates a token.
    public static func generate(
        host: String, port: Int, user: String, region: String, credentials: AWSCredentials, date: Date = Date(),
        expiresIn: Int = 900
    ) -> String {
        let (amzDate, day) = timestamps(date)
        let scope = "\(day)/\(region)/rds-db/aws4_request"
        var query: [(String, String)] = [
            ("Action", "connect"), ("DBUser", user), ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope)"), ("X-Amz-Date", amzDate),
            ("X-Amz-Expires", String(expiresIn)), ("X-Amz-SignedHeaders", "host"),
        ]
        if let token = credentials.sessionToken { query.append(("X-Amz-Security-Token", token)) }
        let encoded = query.map { (encode($0.0), encode($0.1)) }
        // Signed sorted; written in insertion order, the security token last, as botocore does.
        let canonicalQuery = encoded.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let writtenQuery = encoded.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let hostHeader = "\(host):\(port)"
        let canonicalRequest = [
            "GET", "/", canonicalQuery, "host:\(hostHeader)", "", "host", hex(SHA256.hash(data: Data())),
        ].joined(separator: "\n")
        let stringToSign = [
            "AWS4-HMAC-SHA256", amzDate, scope, hex(SHA256.hash(data: Data(canonicalRequest.utf8))),
        ].joined(separator: "\n")
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, "rds-db", "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
        return "\(hostHeader)/?\(writtenQuery)&X-Amz-Signature=\(signature)"
    }

    /// `YYYYMMDDTHHMMSSZ` and `YYYYMMDD` in UTC.
    static func timestamps(_ date: Date) -> (String, String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let day = pad(parts.year, 4) + pad(parts.month, 2) + pad(parts.day, 2)
        return (day + "T" + pad(parts.hour, 2) + pad(parts.minute, 2) + pad(parts.second, 2) + "Z", day)
    }

    /// RFC 3986 percent-encoding, as SigV4 requires (only A-Z a-z 0-9 - _ . ~ unescaped).
    static func encode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                result.append(Character(UnicodeScalar(byte)))
            default:
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
