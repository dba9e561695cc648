"""bench/peers/verify.py - after each client's run: the destination holds exactly the expected
objects with the right bytes; before the next: the destination is empty again.

A run only counts when its destination verifies, so a client cannot look fast by skipping
objects, writing them to other keys or truncating them. The check lists everything under the
lake root (not just the expected keys: an extra key is a failure too) and compares each key's
size and ETag with the layout's MD5. For a single-part object the ETag is the MD5 of its
bytes (S3's rule, and versitygw's, which computes it as it writes); as a check on that rule
and on the server, a sample of objects is also read back and hashed.
"""

import hashlib
import random
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

SAMPLE = 64


def s3_client(endpoint, region, key, secret, pool=32):
    return boto3.client("s3", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 8, "mode": "standard"},
                                      s3={"addressing_style": "path"},
                                      max_pool_connections=pool))


def listing(s3, bucket, prefix):
    """{key: (size, etag without quotes)} of every object under prefix."""
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = (o["Size"], o["ETag"].strip('"'))
    return out


def compare(want, got):
    """Problems between {key: (size, etag)} wanted and listed: missing, unexpected, other."""
    problems = []
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing:
        problems.append("%d missing, e.g. %s" % (len(missing), missing[0]))
    if extra:
        problems.append("%d unexpected, e.g. %s" % (len(extra), extra[0]))
    wrong = sorted(k for k in set(want) & set(got) if got[k] != want[k])
    if wrong:
        problems.append("%d with other size/ETag, e.g. %s: %s, want %s"
                        % (len(wrong), wrong[0], got[wrong[0]], want[wrong[0]]))
    return problems


def verify(s3, bucket, layout):
    """Returns a list of problems (empty when the destination is exactly right)."""
    want = layout.expected()
    got = listing(s3, bucket, layout.lake_root())
    problems = compare(want, got)
    if problems:
        return problems
    sample = random.Random(len(want)).sample(sorted(want), min(SAMPLE, len(want)))

    def read_back(k):
        body = s3.get_object(Bucket=bucket, Key=k)["Body"].read()
        return k, hashlib.md5(body).hexdigest()
    with ThreadPoolExecutor(16) as ex:
        for k, md5 in ex.map(read_back, sample):
            if md5 != want[k][1]:
                problems.append("content of %s hashes to %s, want %s" % (k, md5, want[k][1]))
    return problems


def verify_listed(s3, src_bucket, bucket, layout):
    """verify() for an endpoint that keeps no bytes (bench/s3sink): exactly the expected
    keys with the expected sizes, each with the ETag its source has there (a copy keeps its
    source's ETag; the sink's own ETags are not MD5s). Problems, empty when right."""
    src = listing(s3, src_bucket, layout.root + "/")
    want = {d: (size, src.get(k, (None, None))[1]) for k, d, size, _ in layout.objects}
    return compare(want, listing(s3, bucket, layout.lake_root()))


def clear(s3, bucket, prefix):
    """Deletes every object under prefix (DeleteObjects, 1,000 keys a call, 8 at a time)."""
    keys = sorted(listing(s3, bucket, prefix))
    batches = [keys[i:i + 1000] for i in range(0, len(keys), 1000)]

    def drop(batch):
        r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch],
                                                     "Quiet": True})
        if r.get("Errors"):
            e = r["Errors"][0]
            raise RuntimeError("DeleteObjects: %s %s (%s)" % (e.get("Code"), e.get("Message"),
                                                              e.get("Key")))
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(drop, batches))
    left = listing(s3, bucket, prefix)
    if left:
        raise RuntimeError("%d objects left under s3://%s/%s after clearing"
                           % (len(left), bucket, prefix))
    return len(keys)
