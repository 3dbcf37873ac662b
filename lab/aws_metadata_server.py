#!/usr/bin/env python3
"""Stand-in for the EC2 instance metadata service (IMDSv2) and the ECS/EKS container credentials
endpoint, for the wrapper's AWS credential-provider tests. Python 3 standard library only.

moto serves an instance-metadata stub, but it does not enforce the IMDSv2 session token and hands
out fixed fake keys; it has no container credentials endpoint at all. This server does both
properly and hands out keys that moto issued: every credentials request calls moto's STS
AssumeRole, so each fetch returns new keys (a client that re-fetches too often can be seen), and
the keys work against moto (GetCallerIdentity on moto answers with the assumed role).

IMDSv2 (HttpTokens=required):
  PUT /latest/api/token            header X-aws-ec2-metadata-token-ttl-seconds: 1..21600
                                   -> 200 text/plain token (+ the TTL header echoed);
                                   400 if the TTL header is missing or invalid; 403 if
                                   X-Forwarded-For is present (as on EC2); GET on it -> 405
  GET  /latest/meta-data/...       header X-aws-ec2-metadata-token: <token>; missing, unknown or
                                   expired token -> 401
    /latest/meta-data/iam/security-credentials/        -> "<role>" (text/plain)
    /latest/meta-data/iam/security-credentials/<role>  -> JSON {Code, LastUpdated, Type,
                                                          AccessKeyId, SecretAccessKey, Token,
                                                          Expiration}; other role -> 404
    /latest/meta-data/placement/region                 -> "<region>"
    /latest/meta-data/instance-id                      -> "i-0123456789abcdef0"
Container credentials (application/json {AccessKeyId, SecretAccessKey, Token, Expiration, RoleArn}):
  GET  /v2/credentials/<id>        the AWS_CONTAINER_CREDENTIALS_RELATIVE_URI form: no header
                                   needed, but a wrong Authorization header, if sent, -> 401
  GET  /v1/credentials             the AWS_CONTAINER_CREDENTIALS_FULL_URI form: Authorization
                                   must equal the configured token (missing -> 401, wrong -> 401)
Other:
  GET  /healthz                    -> "ok" (readiness probe; no token needed)
If moto's AssumeRole fails, credential requests answer 500 with the reason.
Expiration and LastUpdated are "YYYY-MM-DDTHH:MM:SSZ" (moto's own STS answer has microseconds).
"""
import argparse
import datetime
import hmac
import json
import secrets
import sys
import threading
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"


def iso_seconds(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Config:
    moto = "http://127.0.0.1:54566"
    region = "us-east-1"
    account = "123456789012"
    role = "wrapper-role"
    container_token = "wrapper-container-token"
    duration = 3600


def assume_role(cfg, session_name):
    """STS AssumeRole on moto (which does not check signatures: a well-formed scope suffices)."""
    body = urllib.parse.urlencode({
        "Action": "AssumeRole",
        "Version": "2011-06-15",
        "RoleArn": f"arn:aws:iam::{cfg.account}:role/{cfg.role}",
        "RoleSessionName": session_name,
        "DurationSeconds": str(cfg.duration),
    }).encode()
    stamp = time.strftime("%Y%m%d", time.gmtime())
    req = urllib.request.Request(cfg.moto.rstrip("/") + "/", data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDMETADATA/{stamp}/{cfg.region}/sts/aws4_request, "
                         "SignedHeaders=content-type;host;x-amz-date, Signature=" + "0" * 64,
    })
    with urllib.request.urlopen(req, timeout=10) as resp:
        root = ET.fromstring(resp.read())
    creds = root.find(f"{STS_NS}AssumeRoleResult/{STS_NS}Credentials")
    if creds is None:
        raise RuntimeError("no Credentials element in moto's AssumeRole answer")
    get = lambda name: creds.findtext(STS_NS + name)
    expiration = datetime.datetime.fromisoformat(get("Expiration").replace("Z", "+00:00"))
    return {
        "AccessKeyId": get("AccessKeyId"),
        "SecretAccessKey": get("SecretAccessKey"),
        "Token": get("SessionToken"),
        "Expiration": iso_seconds(expiration),
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aws-metadata-lab/1"
    cfg = Config()
    tokens = {}  # IMDSv2 token -> expiry (monotonic seconds)
    lock = threading.Lock()

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

    def send(self, status, body, ctype="text/plain", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def drain(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)

    def credentials(self, session):
        try:
            return assume_role(self.cfg, session)
        except Exception as e:  # noqa: BLE001 - report any failure to the client
            self.send(500, f"could not get credentials from moto STS: {e}\n")
            return None

    def do_PUT(self):
        self.drain()
        if self.path != "/latest/api/token":
            return self.send(404, "Not Found\n")
        if "X-Forwarded-For" in self.headers:
            return self.send(403, "Forbidden\n")
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.send(400, "Bad Request\n")
        token = secrets.token_urlsafe(40)
        with self.lock:
            now = time.monotonic()
            for t, exp in list(self.tokens.items()):
                if exp <= now:
                    del self.tokens[t]
            self.tokens[token] = now + int(ttl)
        self.send(200, token, headers=[("X-aws-ec2-metadata-token-ttl-seconds", ttl)])

    def do_GET(self):
        self.drain()
        path = urllib.parse.urlsplit(self.path).path
        if path == "/healthz":
            return self.send(200, "ok\n")
        if path == "/latest/api/token":
            return self.send(405, "Method Not Allowed\n")
        if path.startswith("/latest/"):
            return self.imds(path)
        if path == "/v1/credentials" or path.startswith("/v2/credentials/"):
            return self.container(path)
        self.send(404, "Not Found\n")

    do_HEAD = do_GET

    def do_POST(self):
        self.drain()
        self.send(405, "Method Not Allowed\n")

    def imds(self, path):
        token = self.headers.get("X-aws-ec2-metadata-token", "")
        with self.lock:
            valid = self.tokens.get(token, 0) > time.monotonic()
        if not valid:
            return self.send(401, "Unauthorized\n")
        cfg = self.cfg
        prefix = "/latest/meta-data/iam/security-credentials/"
        static = {
            "/latest/meta-data/placement/region": cfg.region,
            "/latest/meta-data/instance-id": "i-0123456789abcdef0",
            prefix: cfg.role,
        }
        if path in static:
            return self.send(200, static[path])
        if path == prefix + cfg.role:
            creds = self.credentials("imds")
            if creds:
                body = {"Code": "Success", "LastUpdated": iso_seconds(datetime.datetime.now(datetime.timezone.utc)),
                        "Type": "AWS-HMAC", **creds}
                self.send(200, json.dumps(body, indent=2))
            return None
        self.send(404, "Not Found\n")

    def container(self, path):
        auth = self.headers.get("Authorization")
        expected = self.cfg.container_token
        if path == "/v1/credentials" and auth is None:
            return self.send(401, json.dumps({"code": "Unauthorized", "message": "missing Authorization"}),
                             "application/json")
        if auth is not None and not hmac.compare_digest(auth.encode(), expected.encode()):
            return self.send(401, json.dumps({"code": "Unauthorized", "message": "bad Authorization"}),
                             "application/json")
        creds = self.credentials("container")
        if creds:
            creds["RoleArn"] = f"arn:aws:iam::{self.cfg.account}:role/{self.cfg.role}"
            self.send(200, json.dumps(creds), "application/json")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=54567)
    p.add_argument("--moto", default=Config.moto, help="moto server base URL (STS AssumeRole)")
    p.add_argument("--region", default=Config.region)
    p.add_argument("--account", default=Config.account)
    p.add_argument("--role", default=Config.role, help="instance-profile / task role name")
    p.add_argument("--container-token", default=Config.container_token,
                   help="value the container endpoint expects in the Authorization header")
    p.add_argument("--duration", type=int, default=Config.duration, help="DurationSeconds for AssumeRole")
    a = p.parse_args()
    for name in ("moto", "region", "account", "role", "container_token", "duration"):
        setattr(Handler.cfg, name, getattr(a, name))
    server = ThreadingHTTPServer((a.host, a.port), Handler)
    server.daemon_threads = True
    print(f"aws metadata lab server on http://{a.host}:{a.port} (moto: {a.moto})", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
