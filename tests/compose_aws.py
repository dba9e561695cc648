#!/usr/bin/env python3
"""tests/compose_aws.py - the AWS side docker-compose.yml's workers need, made on moto through the
stand-in: what the platform would have made in a real account.

    python compose_aws.py --endpoint http://standin:5001 --keys /stack/aws-keys.env \
        --out /stack/aws-resources.env CLUSTER...

Makes (each call is idempotent, so a re-run of `docker compose up` finds them and goes on):
  - the export bucket snaplake-exports and the lake bucket snaplake-lake;
  - a KMS key for the exports (moto issues its id: written to --out as EXPORT_KMS_KEY_ID);
  - the Glue database snaplake and one crawler snaplake-<cluster> per cluster, over the
    lake folder of that cluster (CRAWLER_NAME's default template, snaplake-{cluster});
  - one Aurora PostgreSQL cluster per CLUSTER (moto gives each an automated snapshot, which
    the producer's discover mode then finds).
The keys come from aws_setup.py's file (signature checking is on; the secret is never
printed). --out is a shell file of `export NAME=value` lines, mode 0644: it holds no secret.
"""

import argparse
import os
import shlex
import sys

import boto3
import botocore.exceptions
from botocore.config import Config

EXPORT_BUCKET = "snaplake-exports"
LAKE_BUCKET = "snaplake-lake"
DATABASE = "snaplake"
KEY_ALIAS = "alias/snaplake-exports"
CRAWLER_ROLE = "arn:aws:iam::123456789012:role/snaplake-glue"


def read_keys(path):
    keys = {}
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if line.startswith("export "):
                line = line[len("export "):]
            if "=" in line:
                k, v = line.split("=", 1)
                keys[k] = shlex.split(v)[0] if v else ""
    return keys


def exists(fn, *codes):
    """Runs fn; an error with one of codes means it was made before."""
    try:
        return fn()
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] in codes:
            return None
        raise


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--keys", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("clusters", nargs="+")
    a = ap.parse_args()
    keys = read_keys(a.keys)
    cfg = Config(retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"})

    def client(service):
        return boto3.client(service, endpoint_url=a.endpoint, region_name=a.region, config=cfg,
                            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])

    s3, kms, glue, rds = client("s3"), client("kms"), client("glue"), client("rds")
    for b in (EXPORT_BUCKET, LAKE_BUCKET):
        exists(lambda: s3.create_bucket(Bucket=b), "BucketAlreadyOwnedByYou", "BucketAlreadyExists")
    aliases = {x["AliasName"]: x.get("TargetKeyId") for x in kms.list_aliases()["Aliases"]}
    key_id = aliases.get(KEY_ALIAS)
    if not key_id:
        key_id = kms.create_key(Description="snaplake compose export key")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key_id)
    key_arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    exists(lambda: glue.create_database(DatabaseInput={"Name": DATABASE}), "AlreadyExistsException")
    # Looked up first: moto answers a second CreateDBCluster with a snapshot error, not
    # DBClusterAlreadyExistsFault.
    have = {c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]}
    for c in a.clusters:
        exists(lambda: glue.create_crawler(
            Name="snaplake-%s" % c, DatabaseName=DATABASE, Role=CRAWLER_ROLE,
            Targets={"S3Targets": [{"Path": "s3://%s/lake/%s/" % (LAKE_BUCKET, c)}]}),
            "AlreadyExistsException")
        if c not in have:
            rds.create_db_cluster(DBClusterIdentifier=c, Engine="aurora-postgresql",
                                  MasterUsername="snaplake", MasterUserPassword="compose-only-pw1")
    tmp = a.out + ".tmp"
    with open(tmp, "w") as fh:
        fh.write("# written by tests/compose_aws.py; no secret in here\n")
        for k, v in (("EXPORT_S3_BUCKET", EXPORT_BUCKET), ("EXPORT_KMS_KEY_ID", key_arn),
                     ("LAKE_BUCKET", LAKE_BUCKET), ("LAKE_PREFIX", "lake")):
            fh.write("export %s=%s\n" % (k, shlex.quote(v)))
    os.chmod(tmp, 0o644)
    os.replace(tmp, a.out)
    print("compose_aws: buckets %s, %s; KMS key; Glue database %s; %d clusters and crawlers"
          % (EXPORT_BUCKET, LAKE_BUCKET, DATABASE, len(a.clusters)))


if __name__ == "__main__":
    sys.exit(main())
