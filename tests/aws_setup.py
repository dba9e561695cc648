#!/usr/bin/env python3
"""tests/aws_setup.py - give the local moto server an IAM user, then prove it checks signatures.

moto server authenticates nothing until it has served INITIAL_NO_AUTH_ACTION_COUNT requests; from
then on every request must be SigV4-signed by an access key its IAM knows, and that key's policies
must allow the action. scripts/stack.sh starts moto with that count set to SETUP_CALLS (it asks
`aws_setup.py --count`, so the number lives here only), then runs this script, which spends
exactly those calls:

    1. iam:CreateUser       snaplake-test
    2. iam:PutUserPolicy    allow * on *
    3. iam:CreateAccessKey  -> the keys the tests use
    4. sts:AssumeRole       into the analytics account's role (ANALYTICS_ROLE_ARN; moto's STS
                            needs no role to exist, and its keys act in that account)
    5. iam:CreateRole       that role, in the analytics account (signed with those keys)
    6. iam:PutRolePolicy    allow * on *: moto checks an assumed role's policies, and answers
                            500 for a role that does not exist, so the share consumer side
                            (tests/integration/test_share_consumer.py) needs it to exist

(if other clients of a shared stack spend part of that budget first, it redoes them inside a
/moto-api/reset-auth window instead) and writes them, mode 0600, as a shell file exporting AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
Then it checks, for a query, a REST-XML and a JSON service, that a request signed with the right
secret succeeds and one signed with a wrong secret is rejected. If a wrong signature is accepted,
the stack would silently test nothing about our signer, so this fails loudly instead.

The secret is never printed.
"""

import argparse
import json
import os
import sys
import urllib.request

import boto3
import botocore.exceptions
from botocore.config import Config

SETUP_CALLS = 6
USER = "snaplake-test"
ANALYTICS_ACCOUNT = "210987654321"
ANALYTICS_ROLE = "snaplake-analytics-consumer"
ANALYTICS_ROLE_ARN = "arn:aws:iam::%s:role/%s" % (ANALYTICS_ACCOUNT, ANALYTICS_ROLE)
# The trust policy deploy/iam/analytics-consumer-role-trust.json describes (moto does not
# evaluate trust policies; it is stored as AWS would have it).
ANALYTICS_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                   "Action": "sts:AssumeRole",
                   "Condition": {"StringEquals": {"sts:ExternalId": "snaplake-test"}}}],
}
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}

# One attempt per call: a retried setup call would be counted by moto and spend the budget.
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                  read_timeout=30)


def client(service, endpoint, region, key_id, secret):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=key_id, aws_secret_access_key=secret,
                        aws_session_token=None, config=NO_RETRY)


# (service, call, kwargs): one cheap read per protocol family our C client speaks.
PROBES = [
    ("iam", "list_users", {}),                       # query protocol, like RDS and STS
    ("rds", "describe_db_cluster_snapshots", {}),    # the query service snaplake drives
    ("s3", "list_buckets", {}),                      # REST-XML
    ("glue", "get_crawlers", {}),                    # JSON 1.1
]


def wrong_secret(secret):
    """The secret with its last character changed: always a different string."""
    return secret[:-1] + ("A" if secret[-1] != "A" else "B")


def check_auth(endpoint, region, key_id, secret):
    """Right secret accepted, wrong secret rejected, for every probe. Returns a list of faults."""
    faults = []
    wrong = wrong_secret(secret)
    for service, call, kwargs in PROBES:
        try:
            getattr(client(service, endpoint, region, key_id, secret), call)(**kwargs)
        except botocore.exceptions.ClientError as e:
            faults.append(f"{service}:{call} with the issued key failed: "
                          f"{e.response.get('Error', {}).get('Code')}")
            continue
        try:
            getattr(client(service, endpoint, region, key_id, wrong), call)(**kwargs)
        except botocore.exceptions.ClientError as e:
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status != 403:
                faults.append(f"{service}:{call} with a wrong secret failed with HTTP {status}, "
                              "expected 403")
        else:
            faults.append(f"{service}:{call} with a wrong secret was ACCEPTED: moto is not "
                          "checking signatures")
    return faults


def setup_calls(iam):
    """The SETUP_CALLS unauthenticated calls. Idempotent (the user may exist from a first try
    whose later call was rejected). Returns (access key id, secret)."""
    try:
        iam.create_user(UserName=USER)
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    iam.put_user_policy(UserName=USER, PolicyName="allow-all", PolicyDocument=json.dumps(POLICY))
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    analytics_role_calls(iam.meta.endpoint_url, iam.meta.region_name, key["AccessKeyId"],
                         key["SecretAccessKey"])
    return key["AccessKeyId"], key["SecretAccessKey"]


def analytics_role_calls(endpoint, region, key_id, secret):
    """Calls 4..6 above: the analytics account's role, made with keys that act in that account.
    Idempotent. Outside the start-up budget, run it inside a reset-auth window."""
    sts = client("sts", endpoint, region, key_id, secret)
    c = sts.assume_role(RoleArn=ANALYTICS_ROLE_ARN, RoleSessionName="aws-setup")["Credentials"]
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                       aws_session_token=c["SessionToken"], config=NO_RETRY)
    try:
        iam.create_role(RoleName=ANALYTICS_ROLE,
                        AssumeRolePolicyDocument=json.dumps(ANALYTICS_TRUST))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    iam.put_role_policy(RoleName=ANALYTICS_ROLE, PolicyName="allow-all",
                        PolicyDocument=json.dumps(POLICY))


def reset_auth(endpoint, count):
    """POST /moto-api/reset-auth: set INITIAL_NO_AUTH_ACTION_COUNT and zero moto's counter."""
    req = urllib.request.Request(endpoint.rstrip("/") + "/moto-api/reset-auth",
                                 data=count.encode(), method="POST",
                                 # Not urllib's default form type: Flask would parse the body as
                                 # a form and moto would read an empty request.data.
                                 headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=10) as r:
        if r.status != 200:
            raise OSError(f"reset-auth answered HTTP {r.status}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", action="store_true",
                    help="print how many unauthenticated setup calls this script makes, and exit")
    ap.add_argument("--endpoint", help="moto server URL, e.g. http://127.0.0.1:15000")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--out", help="shell file to write the keys to (mode 0600)")
    args = ap.parse_args()
    if args.count:
        print(SETUP_CALLS)
        return 0
    if not args.endpoint or not args.out:
        ap.error("--endpoint and --out are required")

    # Any credentials do while moto is still counting; these are not real keys.
    iam = client("iam", args.endpoint, args.region, "AKIASNAPLAKESETUP000", "setup-only")
    try:
        key_id, secret = setup_calls(iam)
    except botocore.exceptions.ClientError as e:
        # Another client of a shared stack (a test still pointed at this port) spent part of the
        # budget between moto's start and our calls. Redo the setup in a window nobody can
        # steal: /moto-api/reset-auth sets the no-auth count and zeroes moto's counter, so
        # "inf" turns checking off, and "0" turns it back on for every later request.
        err = e.response.get("Error", {})
        print(f"aws_setup: setup call {e.operation_name} rejected ({err.get('Code')}); another "
              "client used the no-auth budget, redoing setup in a reset-auth window",
              file=sys.stderr)
        try:
            reset_auth(args.endpoint, "inf")
            try:
                key_id, secret = setup_calls(iam)
            finally:
                reset_auth(args.endpoint, "0")
        except (botocore.exceptions.ClientError, OSError) as e2:
            print(f"aws_setup: setup failed again: {e2}", file=sys.stderr)
            return 1

    faults = check_auth(args.endpoint, args.region, key_id, secret)
    if faults:
        for f in faults:
            print(f"aws_setup: {f}", file=sys.stderr)
        return 1

    tmp = args.out + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"# moto IAM user {USER} at {args.endpoint}; written by tests/aws_setup.py\n"
                f"export AWS_ACCESS_KEY_ID={key_id}\n"
                f"export AWS_SECRET_ACCESS_KEY={secret}\n"
                "unset AWS_SESSION_TOKEN AWS_PROFILE\n")
    os.replace(tmp, args.out)
    print(f"aws_setup: IAM user {USER} ready; signature checking verified on "
          f"{', '.join(p[0] for p in PROBES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
