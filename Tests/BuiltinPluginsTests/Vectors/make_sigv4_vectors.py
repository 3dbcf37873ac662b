"""Writes sigv4_header_vectors.json: SigV4 Authorization headers that botocore's SigV4Auth computes
for Secrets Manager GetSecretValue requests, with fixed credentials and a frozen clock.
Run: pip install botocore && python3 make_sigv4_vectors.py"""
import datetime
import json
import os

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

MOMENT = (2024, 1, 2, 3, 4, 5)


class Frozen(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return cls(*MOMENT)

    @classmethod
    def now(cls, tz=None):
        return cls(*MOMENT, tzinfo=tz)


botocore.auth.datetime.datetime = Frozen

CASES = [
    ("https://secretsmanager.us-east-1.amazonaws.com/", "us-east-1", "AKIDEXAMPLE",
     "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None, "prod/db"),
    ("http://127.0.0.1:54566/", "eu-west-2", "ASIAEXAMPLE", "k/e+y=", "FwoGZXIvYXdzEBY+/=",
     "arn:aws:secretsmanager:eu-west-2:123456789012:secret:db-AbCdEf"),
]

vectors = []
for url, region, key, secret, token, secret_id in CASES:
    body = json.dumps({"SecretId": secret_id}, separators=(",", ":"))
    request = AWSRequest(method="POST", url=url, data=body, headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue"})
    botocore.auth.SigV4Auth(Credentials(key, secret, token), "secretsmanager", region).add_auth(request)
    vectors.append({
        "url": url, "region": region, "accessKeyID": key, "secretAccessKey": secret, "sessionToken": token,
        "body": body, "epochSeconds": int(Frozen(*MOMENT, tzinfo=datetime.timezone.utc).timestamp()),
        "authorization": request.headers["Authorization"], "amzDate": request.headers["X-Amz-Date"],
    })

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "sigv4_header_vectors.json"), "w") as out:
    json.dump(vectors, out, indent=2)
    out.write("\n")
