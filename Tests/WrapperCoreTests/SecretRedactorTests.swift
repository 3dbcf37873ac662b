import Testing
@testable import WrapperCore

/// Texts holding a secret, the secret, and a part of the text that is not secret and must survive.
// BEGIN CASES (scripts/fuzz.sh and the standalone harness read this list)
private let redactorCases: [(text: String, secret: String, kept: String)] = [
    // URL passwords; the password may hold / ? = # @ % :
    ("postgresql://alice:hunter2@db.example.com/app", "hunter2", "db.example.com"),
    ("postgresql://alice:pa/ss@db.example.com/app", "pa/ss", "alice"),
    ("mysql://bob:p?ss=w#rd@h1:3306/shop", "ss=w#rd", "h1:3306/shop"),
    ("postgresql://u:p@ss:w%rd@host.internal/db", "ss:w%rd", "host.internal/db"),
    ("connecting to postgres://alice:s3cr3t/x?y@db-host:5432/app failed", "s3cr3t/x?y", "db-host:5432/app failed"),
    ("redis://:onlypass@cache.local:6379", "onlypass", "cache.local:6379"),
    ("url=postgresql://app:p%40ss%2Fw@db.internal:5432/app?sslmode=require", "p%40ss%2Fw", "db.internal:5432"),
    ("postgresql://alice@db.internal/app?password=querypw&sslmode=require", "querypw", "sslmode=require"),
    ("jdbc:mysql://u:jd@bc:pw@mysql.local:3306/db", "bc:pw", "mysql.local:3306"),
    ("mysql://root:root%pass@127.0.0.1", "root%pass", "127.0.0.1"),
    // key=value, key: value, JSON, quoted keys, conninfo
    ("host=db user=alice password=hunter2 dbname=app", "hunter2", "dbname=app"),
    ("host=db password='pa ss,wo;rd)' user=alice", "ss,wo;rd)", "user=alice"),
    ("password = 'it''s a secret' host=db", "s a secret", "host=db"),
    (#"{"user":"alice","password":"hun,ter;2)"}"#, "ter;2)", "alice"),
    ("{'password': 'x,y;z)w', 'user': 'alice'}", "x,y;z)w", "alice"),
    ("'password'='s3cr3t' 'user'='alice'", "s3cr3t", "alice"),
    ("Password: hunter2\nUser: alice", "hunter2", "alice"),
    ("PWD=odbcPw99;UID=alice", "odbcPw99", "UID=alice"),
    ("passwd=hunter2&user=alice", "hunter2", "user=alice"),
    ("Secret=abc123 name=widget", "abc123", "name=widget"),
    ("IDP-Password=hyphenPw user=alice", "hyphenPw", "user=alice"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG user=alice", "wJalrXUtnFEMI", "user=alice"),
    ("awsSecretAccessKey=camelSecretKey host=h1", "camelSecretKey", "host=h1"),
    ("client_secret=cliSecret99 client_id=app", "cliSecret99", "client_id=app"),
    ("refresh-token: rt-123456 scope=openid", "rt-123456", "scope=openid"),
    ("sslpassword=keypass sslmode=verify-full", "keypass", "sslmode=verify-full"),
    ("my_db_password=dbpass123 host=h1", "dbpass123", "host=h1"),
    ("ssl_password: 'k,e;y)pass' next", "k,e;y)pass", "next"),
    ("pwd='a,b;c)d' uid=alice", "a,b;c)d", "uid=alice"),
    (#"password="quoted \"escaped\" pw" next=1"#, "escaped", "next=1"),
    (#"{"password":"pw\"quote,x","user":"alice"}"#, "quote,x", "alice"),
    (#"message: "{\"password\": \"innerPw\", \"user\": \"alice\"}""#, "innerPw", "alice"),
    ("--password=cliPw --user=alice", "cliPw", "--user=alice"),
    ("export AWS_SESSION_TOKEN=FQoGZXIvYXdzEOr//////////wEaDL", "FQoGZXIvYXdzEOr", "export"),
    ("password=abc&token=tokenValue42&user=alice", "tokenValue42", "user=alice"),
    // SigV4
    ("X-Amz-Signature=abcdef0123456789&X-Amz-Date=20240101", "abcdef0123456789", "X-Amz-Date=20240101"),
    ("https://rds.amazonaws.com/?Action=connect&X-Amz-Security-Token=IQoJb3JpZ2luX2Vj%2FAbC%3D&X-Amz-Signature=deadbeef",
     "IQoJb3JpZ2luX2Vj", "Action=connect"),
    ("https://rds.amazonaws.com/?Action=connect&X-Amz-Security-Token=IQoJ&x-amz-signature=deadbeef42", "deadbeef42", "Action=connect"),
    ("x-amz-credential=AKIAIOSFODNN7EXAMPLE%2F20240101%2Fus-east-1 next", "AKIAIOSFODNN7EXAMPLE", "next"),
    ("Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/rds-db/aws4_request, SignedHeaders=host;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe",
     "fe5f80f77d5fa3bec", "SignedHeaders=host;x-amz-date"),
    ("Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/rds-db/aws4_request, SignedHeaders=host, Signature=fe5f",
     "AKIAIOSFODNN7EXAMPLE/20240101", "AWS4-HMAC-SHA256"),
    // STS, Secrets Manager, SAML, Okta
    (#"{"Credentials":{"AccessKeyId":"ASIAEXAMPLEKEYID","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCY","SessionToken":"FwoGZXIvYXdzEJr"}}"#,
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "ASIAEXAMPLEKEYID"),
    (#"{"Credentials":{"AccessKeyId":"ASIAEXAMPLEKEYID","SecretAccessKey":"wJalr","SessionToken":"FwoGZXIvYXdzEJr"}}"#,
     "FwoGZXIvYXdzEJr", "ASIAEXAMPLEKEYID"),
    ("<Credentials><AccessKeyId>ASIAXMLKEYID</AccessKeyId><SecretAccessKey>xmlSecretKey/abc+def</SecretAccessKey><SessionToken>xmlSessionTok==</SessionToken></Credentials>",
     "xmlSecretKey/abc+def", "ASIAXMLKEYID"),
    ("<Credentials><AccessKeyId>ASIAXMLKEYID</AccessKeyId><SecretAccessKey>x</SecretAccessKey><SessionToken>xmlSessionTok==</SessionToken></Credentials>",
     "xmlSessionTok==", "</SessionToken>"),
    (#"{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:db","Name":"db-creds","SecretString":"{\"username\":\"admin\",\"password\":\"smPass!23\"}"}"#,
     "smPass!23", "db-creds"),
    ("SAMLResponse=PHNhbWxwOlJlc3BvbnNlIHhtbG5z%3D&RelayState=abc", "PHNhbWxwOlJlc3BvbnNl", "RelayState=abc"),
    (#"<input type="hidden" name="SAMLResponse" value="PHNhbWxwOlJlc3BvbnNlMore" />"#, "PHNhbWxwOlJlc3BvbnNlMore", #"type="hidden""#),
    ("<samlp:SAMLResponse>PHNhbWxXmlResp</samlp:SAMLResponse>", "PHNhbWxXmlResp", "samlp"),
    (#"{"expiresAt":"2030-01-01T00:00:00.000Z","status":"SUCCESS","sessionToken":"20111h0ZlxSessionTok"}"#, "20111h0ZlxSessionTok", "SUCCESS"),
    ("<ns:Password>nsXmlPw</ns:Password>", "nsXmlPw", "ns:Password"),
    ("<Password><![CDATA[cd<ata>pw]]></Password>", "cd<ata>pw", "]]></Password>"),
    // Bearer
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig next", "eyJhbGciOiJIUzI1NiJ9", "next"),
    (#"{"authorization": "bearer abc.def.ghi", "host": "api"}"#, "abc.def.ghi", "api"),
    // SQL
    ("CREATE USER 'alice'@'%' IDENTIFIED BY 'S3cret''s,pw;x)'", "s,pw;x)", "alice"),
    ("CREATE USER alice IDENTIFIED BY unquotedPw;", "unquotedPw", "alice"),
    ("CREATE USER alice@localhost IDENTIFIED BY unquotedPw2)", "unquotedPw2", "alice@localhost"),
    ("ALTER USER 'bob'@'localhost' IDENTIFIED WITH caching_sha2_password BY 'pluginPw1'", "pluginPw1", "caching_sha2_password"),
    ("CREATE USER carol IDENTIFIED WITH mysql_native_password AS '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'", "2470C0C06DEE", "carol"),
    ("ALTER USER bob IDENTIFIED VIA ed25519 USING PASSWORD('edPw123')", "edPw123", "ed25519"),
    ("CREATE USER fay IDENTIFIED VIA pam USING 'svc' OR mysql_native_password USING PASSWORD('orPw456')", "orPw456", "fay"),
    ("ALTER ROLE app WITH LOGIN PASSWORD 'rolePw!'", "rolePw!", "LOGIN"),
    ("ALTER ROLE app ENCRYPTED PASSWORD 'md5abc123' VALID UNTIL 'infinity'", "md5abc123", "VALID UNTIL"),
    ("ALTER USER app PASSWORD \"dq pass\"", "dq pass", "app"),
    ("ALTER USER app PASSWORD 'it''s;here)'", "s;here)", "app"),
    ("ALTER USER app WITH PASSWORD E'esc\\'aped'", "aped", "app"),
    ("SET PASSWORD = 'setPw1'", "setPw1", "SET"),
    ("SET PASSWORD = PASSWORD('setPw2')", "setPw2", "SET"),
    ("SET PASSWORD FOR 'dave'@'%' = PASSWORD('forPw99')", "forPw99", "dave"),
    ("SET PASSWORD FOR dave = 'forPw77'", "forPw77", "dave"),
    ("ALTER USER eve IDENTIFIED BY PASSWORD '*hashhash'", "hashhash", "eve"),
    ("GRANT ALL ON *.* TO 'g'@'%' IDENTIFIED BY 'grantPw' WITH GRANT OPTION", "grantPw", "WITH GRANT OPTION"),
    // PostgreSQL constraint details
    ("DETAIL:  Key (password)=(hunter2) already exists.", "hunter2", "already exists"),
    ("DETAIL:  Key (email, password)=(a@b.c, pw, with; paren)) already exists.", "pw, with; paren)", "already exists"),
    ("ERROR:  duplicate key value violates unique constraint \"users_api_token_key\"\nDETAIL:  Key (api_token)=(tok_live_123) already exists.",
     "tok_live_123", "users_api_token_key"),
    ("DETAIL:  Key (\"Password\")=(quotedCol) is not present in table \"t\".", "quotedCol", "is not present"),
]
// END CASES

/// Texts with nothing to mask: the redactor leaves them as they are.
private let unchangedTexts: [String] = [
    "no secrets here",
    "FATAL:  password authentication failed for user \"alice\"",
    "ERROR 1045 (28000): Access denied for user 'alice'@'localhost' (using password: YES)",
    "connection to server at \"db.internal\" (10.0.0.1), port 5432 failed: Connection refused",
    #"{"AccessKeyId":"ASIA123","Expiration":"2030-01-01T00:00:00Z"}"#,
    "postgresql://alice@db.internal:5432/app?sslmode=require",
    "X-Amz-Date=20240101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=900",
    "DETAIL:  Key (email)=(alice@example.com) already exists.",
    "Property 'password' is missing: give password=<value>.",
    "password=***",
    "mysql://root@h/db",
    "Grüße, 世界: passwordless login 🙂",
]

/// One megabyte of each shape that made earlier versions slow (a rescan from every match).
private let largeShapes: [(unit: String, secret: String?)] = [
    ("://", nil), ("password=", nil), ("@", nil), ("IDENTIFIED BY ", nil), ("a", nil),
    ("password=hunter2 ", "hunter2"), ("postgresql://u:hunter2@h ", "hunter2"), ("://u:hunter2@", "hunter2"),
    ("Key (password)=(hunter2", "hunter2"), ("IDENTIFIED BY 'hunter2' ", "hunter2"), ("Bearer hunter2 ", "hunter2"),
    ("'", nil), ("\"password\":\"", nil), ("SET PASSWORD FOR ", nil), ("IDENTIFIED WITH '", nil), ("\\", nil),
]

@Suite("Secret redactor")
struct SecretRedactorTests {
    @Test("masks the secret and keeps the rest", arguments: redactorCases)
    func masks(_ testCase: (text: String, secret: String, kept: String)) {
        let redacted = SecretRedactor.redact(testCase.text)
        #expect(!redacted.contains(testCase.secret), "\(redacted)")
        #expect(redacted.contains(testCase.kept), "\(redacted)")
        #expect(redacted.contains("***"), "\(redacted)")
    }

    @Test("leaves text without secrets unchanged", arguments: unchangedTexts)
    func unchanged(_ text: String) {
        #expect(SecretRedactor.redact(text) == text)
    }

    @Test("exact output of common shapes")
    func exactOutput() {
        #expect(SecretRedactor.redact("postgresql://u:p/w@h/db") == "postgresql://u:***@h/db")
        #expect(SecretRedactor.redact("host=h password='a b' user=u") == "host=h password='***' user=u")
        #expect(SecretRedactor.redact(#"{"password": "x", "user": "u"}"#) == #"{"password": "***", "user": "u"}"#)
        #expect(SecretRedactor.redact("DETAIL:  Key (password)=(a, b) already exists.") == "DETAIL:  Key (password)=(***) already exists.")
        #expect(SecretRedactor.redact("CREATE USER u IDENTIFIED BY 'x';") == "CREATE USER u IDENTIFIED BY '***';")
        #expect(SecretRedactor.redact("SET PASSWORD FOR u = PASSWORD('x')") == "SET PASSWORD FOR u = ***")
        #expect(SecretRedactor.redact("<SessionToken>abc</SessionToken>") == "<SessionToken>***</SessionToken>")
    }

    @Test("redactStatement masks statements that set passwords")
    func statements() {
        let statements = [
            "ALTER USER app WITH PASSWORD 'stmtPw1'", "ALTER ROLE app PASSWORD 'stmtPw1'",
            "CREATE USER 'a'@'%' IDENTIFIED BY 'stmtPw1'", "CREATE USER a IDENTIFIED BY stmtPw1",
            "SET PASSWORD = PASSWORD('stmtPw1')", "SET PASSWORD FOR 'a'@'%' = 'stmtPw1'",
        ]
        for statement in statements {
            #expect(!SecretRedactor.redactStatement(statement).contains("stmtPw1"), "\(statement)")
        }
        #expect(SecretRedactor.redactStatement("SELECT password FROM users WHERE id = 1") == "SELECT password FROM users WHERE id = 1")
    }

    @Test("sensitive names ignore case, '_' and '-'")
    func sensitiveNames() {
        for key in ["password", "PASSWORD", "idp_password", "IDP-Password", "aws_secret_access_key", "awsSecretAccessKey",
                    "aws-session-token", "db_password", "client_secret", "sslpassword", "pwd", "passwd", "token"] {
            #expect(SecretRedactor.isSensitive(key: key), "\(key)")
        }
        for key in ["user", "host", "password_hint", "passwordless", "token_expiration", "secrets_manager_secret_id", "plugins"] {
            #expect(!SecretRedactor.isSensitive(key: key), "\(key)")
        }
    }

    @Test("one-megabyte adversarial inputs are masked completely", arguments: largeShapes)
    func large(_ shape: (unit: String, secret: String?)) {
        let text = String(repeating: shape.unit, count: 1_048_576 / shape.unit.utf8.count)
        let redacted = SecretRedactor.redact(text)
        #expect(redacted.utf8.count <= text.utf8.count + 3)
        if let secret = shape.secret { #expect(!redacted.contains(secret)) }
    }

    @Test("one megabyte of repeated key/value pairs keeps every key")
    func largePairs() {
        let count = 1_048_576 / "password=hunter2 ".utf8.count
        let redacted = SecretRedactor.redact(String(repeating: "password=hunter2 ", count: count))
        #expect(redacted == String(repeating: "password=*** ", count: count))
    }
}
