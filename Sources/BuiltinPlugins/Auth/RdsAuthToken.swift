import Crypto
import Foundation
import WrapperCore

/// The RDS IAM authentication token: a SigV4 query-presigned `connect` action for
/// `host:port` and a database user, valid for 15 minutes, identical to botocore's
/// `generate_db_auth_token` for the same credentials and time.
public enum RdsAuthToken {
    /// Generates a token.
    public static func generate(
        host: String, port: Int, user: String, region: String, credentials: AWSCredentials, date: Date = Date(),
        expiresIn: Int = 900
    ) -> String {
        let (amzDate, day) = SigV4.timestamps(date)
        let scope = "\(day)/\(region)/rds-db/aws4_request"
        var query: [(String, String)] = [
            ("Action", "connect"), ("DBUser", user), ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope)"), ("X-Amz-Date", amzDate),
            ("X-Amz-Expires", String(expiresIn)), ("X-Amz-SignedHeaders", "host"),
        ]
        if let token = credentials.sessionToken { query.append(("X-Amz-Security-Token", token)) }
        let encoded = query.map { (SigV4.encode($0.0), SigV4.encode($0.1)) }
        // Signed sorted; written in insertion order, the security token last, as botocore does.
        let canonicalQuery = encoded.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let writtenQuery = encoded.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let hostHeader = "\(host):\(port)"
        let canonicalRequest = [
            "GET", "/", canonicalQuery, "host:\(hostHeader)", "", "host", SigV4.sha256Hex(Data()),
        ].joined(separator: "\n")
        let signature = SigV4.signature(
            stringToSign: SigV4.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonicalRequest),
            secretAccessKey: credentials.secretAccessKey, day: day, region: region, service: "rds-db")
        return "\(hostHeader)/?\(writtenQuery)&X-Amz-Signature=\(signature)"
    }
}
