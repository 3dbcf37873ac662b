import Crypto
import Foundation

/// AWS Signature Version 4 on swift-crypto: the pieces shared by header-signed requests
/// (Secrets Manager, STS) and query-presigned tokens (RDS IAM).
enum SigV4 {
    /// `YYYYMMDDTHHMMSSZ` and `YYYYMMDD` in UTC.
    static func timestamps(_ date: Date) -> (amzDate: String, day: String) {
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

    static func sha256Hex(_ data: Data) -> String { hex(SHA256.hash(data: data)) }

    /// The signature of `stringToSign` with the key derived for `day`, `region` and `service`.
    static func signature(stringToSign: String, secretAccessKey: String, day: String, region: String, service: String) -> String {
        var key = SymmetricKey(data: Data("AWS4\(secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
    }

    /// The string to sign for a canonical request.
    static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(Data(canonicalRequest.utf8))].joined(separator: "\n")
    }

    /// Signs a request in its headers: adds `X-Amz-Date`, `X-Amz-Security-Token` for temporary
    /// credentials and `Authorization`. `headers` must hold every header the request sends
    /// except `Host`, which is computed from the URL as the HTTP client sends it.
    static func signHeaders(
        method: String, url: URL, headers: inout [String: String], body: Data, service: String, region: String,
        credentials: AWSCredentials, date: Date
    ) {
        let (amzDate, day) = timestamps(date)
        headers["X-Amz-Date"] = amzDate
        if let token = credentials.sessionToken { headers["X-Amz-Security-Token"] = token }
        var signed = headers.map { ($0.key.lowercased(), $0.value.trimmingCharacters(in: .whitespaces)) }
        signed.append(("host", hostHeader(of: url)))
        signed.sort { $0.0 < $1.0 }
        let signedHeaders = signed.map(\.0).joined(separator: ";")
        let path = url.path.isEmpty ? "/" : url.path.split(separator: "/", omittingEmptySubsequences: false)
            .map { encode(String($0)) }.joined(separator: "/")
        let query = (URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? [])
            .map { (encode($0.name), encode($0.value ?? "")) }.sorted { $0 < $1 }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let canonicalRequest = [
            method, path, query, signed.map { "\($0.0):\($0.1)\n" }.joined(), signedHeaders, sha256Hex(body),
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let signature = signature(
            stringToSign: stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonicalRequest),
            secretAccessKey: credentials.secretAccessKey, day: day, region: region, service: service)
        headers["Authorization"] =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    /// `host` or `host:port` when the port is not the scheme's default, as HTTP clients send it.
    static func hostHeader(of url: URL) -> String {
        let host = url.host ?? ""
        guard let port = url.port else { return host }
        let isDefault = (url.scheme == "https" && port == 443) || (url.scheme == "http" && port == 80)
        return isDefault ? host : "\(host):\(port)"
    }
}
