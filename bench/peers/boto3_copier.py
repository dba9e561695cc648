#!/usr/bin/env python3
"""bench/peers/boto3_copier.py - the seed's way of copying an export into the lake, as a
peer for the copy benchmark: list the export prefix, then CopyObject each data file to its
lake key from a ThreadPoolExecutor (boto3, one client shared by the threads, a connection
pool as large as the pool of threads).

The mapping is snaplake's (common/keymap.h): `<root>/<db>/<schema.table>[/<n>]/<file>.gz.parquet`
-> `[<lake prefix>/]<cluster>/<db>/<schema.table>/date=<date>/<file>`; markers and metadata
are not copied. It writes the same keys as snaplake's copy stage, so the benchmark's
verifier holds both to the same destination.

Usage: boto3_copier.py --endpoint URL --src-bucket B --export-root P --dst-bucket B
                       --lake-prefix P --cluster C --date D [--workers N]
Credentials and region from the environment. Prints "copied N" on success, exits 1 on any
failed copy.
"""

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config


def dest_key(root, key, lake_prefix, cluster, date):
    """The lake key of one export key, or None when it is not a data file."""
    if not key.endswith(".gz.parquet") or not key.startswith(root + "/"):
        return None
    parts = key[len(root) + 1:].split("/")
    if len(parts) not in (3, 4) or (len(parts) == 4 and not parts[2].isdigit()):
        return None
    db, table, fname = parts[0], parts[1], parts[-1]
    lead = lake_prefix + "/" if lake_prefix else ""
    return "%s%s/%s/%s/date=%s/%s" % (lead, cluster, db, table, date, fname)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for a in ("endpoint", "src-bucket", "export-root", "dst-bucket", "cluster", "date"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--lake-prefix", default="")
    ap.add_argument("--workers", type=int, default=32)
    args = ap.parse_args(argv)
    s3 = boto3.client("s3", endpoint_url=args.endpoint,
                      region_name=os.environ.get("AWS_REGION", "us-east-1"),
                      config=Config(retries={"max_attempts": 5, "mode": "standard"},
                                    s3={"addressing_style": "path"},
                                    max_pool_connections=args.workers))
    root = args.export_root.rstrip("/")
    jobs = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=args.src_bucket,
                                                             Prefix=root + "/"):
        for o in page.get("Contents", []):
            d = dest_key(root, o["Key"], args.lake_prefix, args.cluster, args.date)
            if d:
                jobs.append((o["Key"], d))

    def one(job):
        s3.copy_object(Bucket=args.dst_bucket, Key=job[1],
                       CopySource={"Bucket": args.src_bucket, "Key": job[0]})

    with ThreadPoolExecutor(args.workers) as ex:
        list(ex.map(one, jobs))
    print("copied %d" % len(jobs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
