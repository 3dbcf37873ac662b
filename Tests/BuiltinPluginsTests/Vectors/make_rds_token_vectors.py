"""Writes rds_token_vectors.json: RDS IAM tokens from botocore's generate_db_auth_token for fixed
credentials and a frozen clock. Run: pip install botocore && python3 make_rds_token_vectors.py"""
import datetime
import json
import os

import botocore.auth
import botocore.session

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
    ("db.cluster-xyz.us-east-1.rds.amazonaws.com", 5432, "iam_user", "us-east-1", "AKIDEXAMPLE",
     "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
    ("127.0.0.1", 3306, "user@x", "eu-west-2", "AKIDEXAMPLE", "secret", "SESSIONTOKEN/with+chars="),
    ("inst-1.abc.ap-southeast-2.rds.amazonaws.com", 3306, "app user", "ap-southeast-2", "AKIAIOSFODNN7EXAMPLE",
     "k/e+y=", "FwoGZXIvYXdzEBY"),
]

vectors = []
for host, port, user, region, key, secret, token in CASES:
    session = botocore.session.get_session()
    session.set_credentials(key, secret, token)
    client = session.create_client("rds", region_name=region)
    vectors.append({
        "host": host, "port": port, "user": user, "region": region, "accessKeyID": key,
        "secretAccessKey": secret, "sessionToken": token, "epochSeconds": int(Frozen(*MOMENT, tzinfo=datetime.timezone.utc).timestamp()),
        "token": client.generate_db_auth_token(host, port, user),
    })

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "rds_token_vectors.json"), "w") as out:
    json.dump(vectors, out, indent=2)
    out.write("\n")
