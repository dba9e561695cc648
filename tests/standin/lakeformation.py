"""Lake Formation and AWS RAM for the AWS stand-in (tests/standin/README.md).

moto's Lake Formation has no data cells filters, fails ListPermissions on
LFTagPolicy / DataCellsFilter resources, drops PermissionsWithGrantOption in the
batch calls, does not check tag values, replaces a resource's whole tag list in
AddLFTagsToResource and has no RAM invitations.  This module answers those
services itself, with state, after three checks every request goes through:

1. SigV4: a request signed with the stand-in's own access key, or with a key it
   saw moto issue (IAM CreateAccessKey, STS AssumeRole* answers passing through
   it), is verified here with botocore's signer (moto does not route most of
   these paths, so it cannot check them); any other key is checked by
   forwarding the request to moto unchanged, as the stand-in does for every
   other service.
2. botocore's ParamValidator over the operation's input shape from botocore's
   own service model: a mismatch is InvalidInputException (Lake Formation) or
   MissingRequiredParameterException / InvalidParameterException (RAM) with
   the validator's report.
3. Faults on request (config key ``lf_faults``): ConcurrentModificationException
   on a rate or on the next N calls of named operations, and per-entry
   failures inside a 200 for the batch calls and AddLFTagsToResource.

Glue databases, tables and columns are looked up in moto's Glue with the
stand-in's own credentials, where AWS checks them (EntityNotFoundException).
"""

import base64
import copy
import hmac
import json
import os
import random
import re
import threading
import time
import urllib.parse
import uuid

SERVICES = ("lakeformation", "ram")
# Answers that carry a new access key and its secret (see learn_keys).
KEY_SOURCES = {("iam", "CreateAccessKey"), ("sts", "AssumeRole"),
               ("sts", "AssumeRoleWithWebIdentity"), ("sts", "GetSessionToken"),
               ("sts", "GetFederationToken")}
AUTH_RE = re.compile(r"AWS4-HMAC-SHA256\s+Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                     r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)")
ACCOUNT_RE = re.compile(r"^\d{12}$")
# Operations whose per-entry failures can be injected (they report partial
# failure inside an HTTP 200 on AWS).
ENTRY_OPS = ("BatchGrantPermissions", "BatchRevokePermissions", "AddLFTagsToResource",
             "RemoveLFTagsFromResource")


def default_config():
    """Config keys this module adds to the stand-in's config."""
    return {"lf_faults": {
        # ConcurrentModificationException (HTTP 400) before anything is done.
        "concurrent_rate": 0.0,        # share of the calls of concurrent_ops
        "concurrent_ops": [],          # operation names; empty = every LF operation
        "concurrent_next": {},         # operation -> refuse its next N calls
        # operation -> {"count": N, "code": ErrorCode, "message": ...}: the next N
        # entries of that operation fail inside the 200 and are not applied.
        "entry_failures": {},
        "seed": None,
    }}


_MODELS = {}
_MODELS_LOCK = threading.Lock()


def service_model(service):
    with _MODELS_LOCK:
        m = _MODELS.get(service)
        if m is None:
            import botocore.session
            m = _MODELS[service] = botocore.session.get_session().get_service_model(service)
        return m


def operation_of(service, method, path):
    """Operation name for a REST-JSON request path, or None."""
    m = service_model(service)
    p = urllib.parse.urlsplit(path).path.rstrip("/") or "/"
    for name in m.operation_names:
        http = m.operation_model(name).http
        if http.get("method") == method and http.get("requestUri", "").split("?")[0] == p:
            return name
    return None


class ApiError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _now():
    return time.time()


def _token(offset):
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _page(items, req, key_next="NextToken", key_max="MaxResults", default_max=100,
          err="InvalidInputException"):
    """(page, next token or None) over a list; tokens are opaque offsets."""
    start = 0
    tok = req.get(key_next)
    if tok:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(tok.encode()))["o"])
        except (ValueError, KeyError, TypeError):
            raise ApiError(err, "The next token is invalid.")
    n = int(req.get(key_max) or default_max)
    page = items[start:start + n]
    return page, (_token(start + n) if start + n < len(items) else None)


def _canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


class LakeFormation:
    """Lake Formation + RAM state.  Every method touching state holds self.lock."""

    def __init__(self, standin, account):
        self.sd = standin
        self.account = account
        self.lock = threading.RLock()
        self.rng = random.Random()
        self._glue_client = None
        self.keys = {}   # access key id -> secret, learnt from IAM / STS answers
        self.key_account = {}   # access key id -> the account it acts in
        self.caller = threading.local()   # .account: the account of the request served
        self.reset()
        self.load()

    # ------------------------------------------------------------ state
    def reset(self):
        with self.lock:
            self.tags = {}            # (catalog, key) -> [values]
            self.assigned = {}        # resource key (tuple) -> {tag key: [value]}
            self.filters = {}         # (catalog, db, table, name) -> TableData
            self.perms = {}           # (principal, canon resource) -> entry
            self.settings = {"DataLakeAdmins": [], "CreateDatabaseDefaultPermissions": [],
                             "CreateTableDefaultPermissions": [],
                             "Parameters": {"CROSS_ACCOUNT_VERSION": "4"}}
            self.shares = {}          # (receiver, catalog, db) -> share dict
            self.invitations = {}     # arn -> invitation dict
            self.calls = {}           # operation -> count
            self.faults = {}          # "op:code" -> count

    def state_json(self):
        with self.lock:
            return {"lf_tags": [{"CatalogId": c, "TagKey": k, "TagValues": v}
                                for (c, k), v in self.tags.items()],
                    "resource_tags": [{"resource": list(r), "tags": t}
                                      for r, t in self.assigned.items()],
                    "data_cells_filters": list(self.filters.values()),
                    "permissions": [self._perm_out(e) for e in self.perms.values()],
                    "invitations": list(self.invitations.values()),
                    "calls": dict(self.calls), "faults": dict(self.faults)}

    # ------------------------------------------------------------ entry
    def handle(self, service, operation, method, path, headers, body, forward):
        """Answers one Lake Formation or RAM request: (status, headers, body)."""
        err_invalid = "InvalidInputException" if service == "lakeformation" \
            else "InvalidParameterException"
        if operation is None:
            return self._error(service, "UnknownOperationException",
                               "Unknown operation %s %s" % (method, path), 404)
        denied = self.check_auth(service, method, path, headers, body, forward)
        if denied:
            return denied
        try:
            req = json.loads(body or b"{}")
            if not isinstance(req, dict):
                raise ValueError("the body is not a JSON object")
        except ValueError as e:
            return self._error(service, "SerializationException" if service == "ram"
                               else err_invalid, "Malformed request body: %s" % e)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        report = self.validate(service, operation, req, q, headers)
        if report:
            code = err_invalid
            if service == "ram" and "Missing required parameter" in report:
                code = "MissingRequiredParameterException"
            return self._error(service, code, report)
        with self.lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1
        if service == "lakeformation":
            fault = self._pick_concurrent(operation)
            if fault:
                return self._error(service, "ConcurrentModificationException", fault)
        fn = getattr(self, "op_" + operation, None)
        if fn is None:
            return self._error(service, err_invalid,
                               "The stand-in does not implement %s" % operation, 501)
        try:
            out = fn(req)
        except ApiError as e:
            return self._error(service, e.code, e.message)
        except Exception as e:  # a stand-in bug or a Glue lookup failing: AWS's 500
            return self._error(service, "InternalServiceException" if service ==
                               "lakeformation" else "ServerInternalException",
                               "stand-in error: %r" % e, 500)
        if not operation.startswith(("Get", "List")):
            self.save()
        return 200, [("Content-Type", "application/json"),
                     ("x-amzn-RequestId", str(uuid.uuid4()))], json.dumps(out).encode()

    def _error(self, service, code, message, status=None):
        if status is None:
            status = 400
            try:
                shape = service_model(service).shape_for(code)
                status = shape.metadata.get("error", {}).get("httpStatusCode", 400)
            except Exception:
                pass
        key = "message" if service == "ram" else "Message"
        return status, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code),
                        ("x-amzn-RequestId", str(uuid.uuid4()))], \
            json.dumps({"__type": code, key: message}).encode()

    # ------------------------------------------------------------ checks
    def validate(self, service, operation, req, query, headers):
        """botocore's ParamValidator report for the request, or ''."""
        from botocore.validate import ParamValidator
        om = service_model(service).operation_model(operation)
        params = dict(req)
        if om.input_shape is not None:
            for name, shape in om.input_shape.members.items():
                loc = shape.serialization.get("location")
                wire = shape.serialization.get("name", name)
                if loc == "querystring" and wire in query:
                    params[name] = query[wire]
                elif loc == "header" and headers.get(wire) is not None:
                    params[name] = headers.get(wire)
        shape = om.input_shape
        if shape is None:
            return "" if not params else "The operation takes no input"
        report = ParamValidator().validate(params, shape)
        if report.has_errors():
            return report.generate_report()
        over = _over_max(params, shape, "input")
        if over:
            return over
        if operation in ("BatchGrantPermissions", "BatchRevokePermissions") and \
                len(req.get("Entries") or []) > 20:
            return "Entries: at most 20 entries per call, got %d" % len(req["Entries"])
        return ""

    def check_auth(self, service, method, path, headers, body, forward):
        """None when the request's SigV4 signature is good, else the refusal."""
        auth = headers.get("Authorization", "")
        m = AUTH_RE.match(auth)
        if not m:
            return self._error(service, "MissingAuthenticationTokenException",
                               "Missing Authentication Token", 403)
        key_id, _day, region, svc, signed, sig = m.groups()
        with self.lock:
            self.caller.account = self.key_account.get(key_id, self.account)
        secret = None
        if key_id == os.environ.get("AWS_ACCESS_KEY_ID"):
            secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
        else:
            with self.lock:
                secret = self.keys.get(key_id)
        if secret:
            want = self._signature(key_id, secret, region, svc, signed.split(";"),
                                   method, path, headers, body)
            if want is None or not hmac.compare_digest(want, sig):
                return self._error(service, "InvalidSignatureException",
                                   "The request signature we calculated does not match the "
                                   "signature you provided. Check your AWS Secret Access Key "
                                   "and signing method.", 403)
            return None
        # Another key: moto knows it (or not).  moto checks signatures before it
        # dispatches, but only on the paths it routes.
        status, _h, rbody = forward()
        if status in (401, 403):
            return status, _h, rbody
        if status == 404:
            return self._error(service, "UnrecognizedClientException",
                               "The security token included in the request is invalid.", 403)
        return None

    def learn_keys(self, body):
        """Remembers the AccessKeyId/SecretAccessKey pairs of an IAM CreateAccessKey or
        STS AssumeRole* answer that passed through the stand-in, so that requests
        signed with those keys (a role assumed in the analytics account) are verified
        here too."""
        import xml.etree.ElementTree as ET
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return
        # The account the key acts in: an assumed role's (AssumedRoleUser/Arn), else ours.
        account = self.account
        for el in root.iter():
            if el.tag.rsplit("}", 1)[-1] == "AssumedRoleUser":
                for ch in el:
                    if ch.tag.rsplit("}", 1)[-1] == "Arn" and len((ch.text or "").split(":")) > 4:
                        account = ch.text.split(":")[4] or account
        for el in root.iter():
            kid = sec = None
            for ch in el:
                tag = ch.tag.rsplit("}", 1)[-1]
                if tag == "AccessKeyId":
                    kid = (ch.text or "").strip()
                elif tag == "SecretAccessKey":
                    sec = (ch.text or "").strip()
            if kid and sec:
                with self.lock:
                    self.keys[kid] = sec
                    self.key_account[kid] = account
                    for k in list(self.keys)[:max(len(self.keys) - 10000, 0)]:
                        del self.keys[k]
                        self.key_account.pop(k, None)

    @staticmethod
    def _signature(key, secret, region, svc, signed, method, path, headers, body):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        stamp = headers.get("X-Amz-Date")
        host = headers.get("Host")
        if not stamp or not host:
            return None
        hdrs = {}
        for h in signed:
            v = headers.get(h)
            if v is None:
                return None
            hdrs[h] = v
        token = headers.get("X-Amz-Security-Token")
        signer = SigV4Auth(Credentials(key, secret, token), svc, region)
        req = AWSRequest(method=method, url="http://%s%s" % (host, path), data=body,
                         headers=hdrs)
        req.context["timestamp"] = stamp
        signer.headers_to_sign = lambda r: _Signed(r, signed)
        canonical = signer.canonical_request(req)
        sts = signer.string_to_sign(req, canonical)
        return signer.signature(sts, req)

    def _pick_concurrent(self, op):
        with self.sd.lock:
            f = self.sd.cfg["lf_faults"]
            nxt = f.get("concurrent_next") or {}
            if int(nxt.get(op, 0)) > 0:
                nxt[op] = int(nxt[op]) - 1
                hit = True
            else:
                rate = float(f.get("concurrent_rate") or 0)
                ops = f.get("concurrent_ops") or []
                if f.get("seed") is not None and getattr(self, "_seed", None) != f["seed"]:
                    self._seed = f["seed"]
                    self.rng = random.Random(f["seed"])
                hit = rate > 0 and (not ops or op in ops) and self.rng.random() < rate
        if not hit:
            return None
        with self.lock:
            k = "%s:ConcurrentModificationException" % op
            self.faults[k] = self.faults.get(k, 0) + 1
        return "Resource was modified by another operation. Please retry."

    def _entry_fault(self, op):
        """(code, message) when the next entry of op must fail, else None."""
        with self.sd.lock:
            spec = (self.sd.cfg["lf_faults"].get("entry_failures") or {}).get(op)
            if not spec or int(spec.get("count", 0)) <= 0:
                return None
            spec["count"] = int(spec["count"]) - 1
            code = spec.get("code", "ConcurrentModificationException")
            msg = spec.get("message", "Injected failure of this entry")
        with self.lock:
            k = "%s:entry:%s" % (op, code)
            self.faults[k] = self.faults.get(k, 0) + 1
        return code, msg

    # ------------------------------------------------------------ Glue
    def _glue(self):
        # One client (boto3 clients are thread-safe; making one costs tens of ms).
        with self.lock:
            if self._glue_client is None:
                self._glue_client = self.sd.boto("glue")
            return self._glue_client

    def _catalog(self, cid):
        return cid or self.account

    def _need_db(self, catalog, db):
        if catalog != self.account:
            return  # another account's catalog (a resource link target): not ours to check
        try:
            self._glue().get_database(Name=db)
        except Exception as e:
            if "EntityNotFound" in str(e):
                raise ApiError("EntityNotFoundException", "Database %s not found." % db)
            raise

    def _table(self, catalog, db, table):
        """The Glue table (dict), or EntityNotFoundException."""
        if catalog != self.account:
            return None
        self._need_db(catalog, db)
        try:
            return self._glue().get_table(DatabaseName=db, Name=table)["Table"]
        except Exception as e:
            if "EntityNotFound" in str(e):
                raise ApiError("EntityNotFoundException", "Table %s not found." % table)
            raise

    @staticmethod
    def _columns(t):
        if t is None:
            return None
        cols = [c["Name"] for c in t.get("StorageDescriptor", {}).get("Columns", [])]
        return cols + [c["Name"] for c in t.get("PartitionKeys", [])]

    # ------------------------------------------------------------ LF-Tags
    def _tag(self, catalog, key):
        v = self.tags.get((catalog, key))
        if v is None:
            raise ApiError("EntityNotFoundException", "Tag key does not exist")
        return v

    def op_CreateLFTag(self, req):
        c = self._catalog(req.get("CatalogId"))
        vals = req["TagValues"]
        if len(set(vals)) != len(vals):
            raise ApiError("InvalidInputException", "Tag values must be unique.")
        with self.lock:
            if (c, req["TagKey"]) in self.tags:
                raise ApiError("AlreadyExistsException", "Tag key already exists")
            self.tags[(c, req["TagKey"])] = list(vals)
        return {}

    def op_GetLFTag(self, req):
        c = self._catalog(req.get("CatalogId"))
        with self.lock:
            return {"CatalogId": c, "TagKey": req["TagKey"],
                    "TagValues": list(self._tag(c, req["TagKey"]))}

    def op_UpdateLFTag(self, req):
        c = self._catalog(req.get("CatalogId"))
        add = req.get("TagValuesToAdd") or []
        rm = req.get("TagValuesToDelete") or []
        if not add and not rm:
            raise ApiError("InvalidInputException",
                           "TagValuesToAdd or TagValuesToDelete must be given.")
        with self.lock:
            vals = self._tag(c, req["TagKey"])
            missing = [v for v in rm if v not in vals]
            if missing:
                raise ApiError("InvalidInputException",
                               "Tag values %s do not exist for the tag key" % missing)
            new = [v for v in vals if v not in rm] + [v for v in add if v not in vals]
            if not new:
                raise ApiError("InvalidInputException", "A tag key must keep a value.")
            self.tags[(c, req["TagKey"])] = new
        return {}

    def op_DeleteLFTag(self, req):
        c = self._catalog(req.get("CatalogId"))
        with self.lock:
            self._tag(c, req["TagKey"])
            del self.tags[(c, req["TagKey"])]
            for r in self.assigned.values():
                r.pop(req["TagKey"], None)
        return {}

    def op_ListLFTags(self, req):
        c = self._catalog(req.get("CatalogId"))
        with self.lock:
            items = [{"CatalogId": cc, "TagKey": k, "TagValues": list(v)}
                     for (cc, k), v in sorted(self.tags.items()) if cc == c]
        page, nxt = _page(items, req)
        out = {"LFTags": page}
        if nxt:
            out["NextToken"] = nxt
        return out

    # ------------------------------------------------------------ resource tags
    def _tag_resource(self, res):
        """[(resource key, columns or None)] for Database / Table / TableWithColumns,
        after checking the resource exists in Glue."""
        if "Database" in res:
            d = res["Database"]
            c = self._catalog(d.get("CatalogId"))
            self._need_db(c, d["Name"])
            return [("db", c, d["Name"])], None
        if "Table" in res:
            t = res["Table"]
            c = self._catalog(t.get("CatalogId"))
            if "TableWildcard" in t or not t.get("Name"):
                raise ApiError("InvalidInputException",
                               "Tags cannot be assigned to a table wildcard.")
            gt = self._table(c, t["DatabaseName"], t["Name"])
            return [("table", c, t["DatabaseName"], t["Name"])], gt
        if "TableWithColumns" in res:
            t = res["TableWithColumns"]
            c = self._catalog(t.get("CatalogId"))
            gt = self._table(c, t["DatabaseName"], t["Name"])
            cols = t.get("ColumnNames") or []
            known = self._columns(gt)
            if known is not None:
                bad = [x for x in cols if x not in known]
                if bad:
                    raise ApiError("EntityNotFoundException",
                                   "Columns %s not found in table %s." % (bad, t["Name"]))
            return [("col", c, t["DatabaseName"], t["Name"], x) for x in cols], gt
        raise ApiError("InvalidInputException",
                       "Resource must be a database, a table or table columns.")

    def _tags_edit(self, req, op, remove):
        keys, _gt = self._tag_resource(req["Resource"])
        failures = []
        # Drawn before taking self.lock: _entry_fault takes the stand-in's lock, and
        # the stand-in's lock is never taken inside ours (it is the other way round).
        faults = [self._entry_fault(op) for _ in req["LFTags"]]
        with self.lock:
            for pair, fault in zip(req["LFTags"], faults):
                c = self._catalog(pair.get("CatalogId"))
                out_pair = {"CatalogId": c, "TagKey": pair["TagKey"],
                            "TagValues": list(pair["TagValues"])}
                if fault:
                    failures.append({"LFTag": out_pair,
                                     "Error": {"ErrorCode": fault[0], "ErrorMessage": fault[1]}})
                    continue
                allowed = self.tags.get((c, pair["TagKey"]))
                if allowed is None:
                    failures.append({"LFTag": out_pair, "Error": {
                        "ErrorCode": "EntityNotFoundException",
                        "ErrorMessage": "Tag key does not exist"}})
                    continue
                if len(pair["TagValues"]) != 1:
                    failures.append({"LFTag": out_pair, "Error": {
                        "ErrorCode": "InvalidInputException",
                        "ErrorMessage": "A resource can be assigned only one value of a "
                                        "tag key."}})
                    continue
                val = pair["TagValues"][0]
                if val not in allowed:
                    failures.append({"LFTag": out_pair, "Error": {
                        "ErrorCode": "InvalidInputException",
                        "ErrorMessage": "Tag value %s does not exist for tag key %s"
                                        % (val, pair["TagKey"])}})
                    continue
                for k in keys:
                    cur = self.assigned.setdefault(k, {})
                    if remove:
                        if cur.get(pair["TagKey"]) == [val]:
                            del cur[pair["TagKey"]]
                    else:
                        cur[pair["TagKey"]] = [val]   # one value per key: overrides
            self._tbac_shares()
        return {"Failures": failures}

    def op_AddLFTagsToResource(self, req):
        return self._tags_edit(req, "AddLFTagsToResource", remove=False)

    def op_RemoveLFTagsFromResource(self, req):
        return self._tags_edit(req, "RemoveLFTagsFromResource", remove=True)

    def _pairs(self, catalog, tags):
        return [{"CatalogId": catalog, "TagKey": k, "TagValues": list(v)}
                for k, v in sorted(tags.items())]

    def op_GetResourceLFTags(self, req):
        res = req["Resource"]
        only_assigned = bool(req.get("ShowAssignedLFTags"))
        keys, gt = self._tag_resource(res)
        out = {}
        with self.lock:
            if "Database" in res:
                c, db = keys[0][1], keys[0][2]
                out["LFTagOnDatabase"] = self._pairs(c, self.assigned.get(("db", c, db), {}))
                return out
            t = res.get("Table") or res["TableWithColumns"]
            c = self._catalog(t.get("CatalogId"))
            db, name = t["DatabaseName"], t["Name"]
            db_tags = dict(self.assigned.get(("db", c, db), {}))
            tbl_own = dict(self.assigned.get(("table", c, db, name), {}))
            tbl = tbl_own if only_assigned else dict(db_tags, **tbl_own)
            out["LFTagOnDatabase"] = self._pairs(c, db_tags)
            if "Table" in res:
                out["LFTagsOnTable"] = self._pairs(c, tbl)
                cols = self._columns(gt) or []
            else:
                cols = t.get("ColumnNames") or []
            col_out = []
            for col in cols:
                own = dict(self.assigned.get(("col", c, db, name, col), {}))
                eff = own if only_assigned else dict(tbl, **own)
                col_out.append({"Name": col, "LFTags": self._pairs(c, eff)})
            out["LFTagsOnColumns"] = col_out
        return out

    # ------------------------------------------------------------ data cells filters
    def _filter_key(self, d, table_catalog="TableCatalogId", table="TableName"):
        return (self._catalog(d.get(table_catalog)), d["DatabaseName"], d[table], d["Name"])

    def _check_filter(self, td):
        if "ColumnNames" in td and "ColumnWildcard" in td:
            raise ApiError("InvalidInputException",
                           "ColumnNames and ColumnWildcard cannot both be given.")
        if "ColumnNames" not in td and "ColumnWildcard" not in td:
            raise ApiError("InvalidInputException",
                           "Either ColumnNames or ColumnWildcard must be given.")
        rf = td.get("RowFilter") or {}
        if "FilterExpression" in rf and "AllRowsWildcard" in rf:
            raise ApiError("InvalidInputException",
                           "FilterExpression and AllRowsWildcard cannot both be given.")
        c = self._catalog(td.get("TableCatalogId"))
        gt = self._table(c, td["DatabaseName"], td["TableName"])
        known = self._columns(gt)
        named = list(td.get("ColumnNames") or []) + list(
            (td.get("ColumnWildcard") or {}).get("ExcludedColumnNames") or [])
        if known is not None:
            bad = [x for x in named if x not in known]
            if bad:
                raise ApiError("InvalidInputException",
                               "Columns %s are not in table %s." % (bad, td["TableName"]))

    def op_CreateDataCellsFilter(self, req):
        td = copy.deepcopy(req["TableData"])
        self._check_filter(td)
        k = self._filter_key(td)
        with self.lock:
            if k in self.filters:
                raise ApiError("AlreadyExistsException",
                               "A data cells filter %s already exists on table %s."
                               % (k[3], k[2]))
            td["TableCatalogId"] = k[0]
            td["VersionId"] = "1"
            self.filters[k] = td
        return {}

    def op_GetDataCellsFilter(self, req):
        k = self._filter_key(req)
        with self.lock:
            f = self.filters.get(k)
            if f is None:
                raise ApiError("EntityNotFoundException",
                               "Data cells filter %s not found." % k[3])
            return {"DataCellsFilter": copy.deepcopy(f)}

    def op_UpdateDataCellsFilter(self, req):
        td = copy.deepcopy(req["TableData"])
        self._check_filter(td)
        k = self._filter_key(td)
        with self.lock:
            old = self.filters.get(k)
            if old is None:
                raise ApiError("EntityNotFoundException",
                               "Data cells filter %s not found." % k[3])
            if td.get("VersionId") and td["VersionId"] != old["VersionId"]:
                raise ApiError("ConcurrentModificationException",
                               "The data cells filter was updated by someone else.")
            td["TableCatalogId"] = k[0]
            td["VersionId"] = str(int(old["VersionId"]) + 1)
            self.filters[k] = td
        return {}

    def op_DeleteDataCellsFilter(self, req):
        k = self._filter_key(req)
        with self.lock:
            if self.filters.pop(k, None) is None:
                raise ApiError("EntityNotFoundException",
                               "Data cells filter %s not found." % k[3])
            for pk in [pk for pk, e in self.perms.items()
                       if "DataCellsFilter" in e["Resource"] and
                       self._filter_key(e["Resource"]["DataCellsFilter"]) == k]:
                del self.perms[pk]
        return {}

    def op_ListDataCellsFilter(self, req):
        t = req.get("Table")
        with self.lock:
            items = []
            for k, f in sorted(self.filters.items()):
                # A TableResource names one table, or every table of the database with
                # TableWildcard (then it has no Name).
                if t and (k[0] != self._catalog(t.get("CatalogId")) or
                          k[1] != t["DatabaseName"] or
                          ("TableWildcard" not in t and k[2] != t.get("Name"))):
                    continue
                items.append(copy.deepcopy(f))
        page, nxt = _page(items, req)
        out = {"DataCellsFilters": page}
        if nxt:
            out["NextToken"] = nxt
        return out

    # ------------------------------------------------------------ permissions
    def _norm_resource(self, res):
        """The resource with CatalogIds filled and lists sorted; checks that it
        exists.  Returns (normalised resource, database for RAM or None)."""
        res = copy.deepcopy(res)
        if len(res) != 1:
            raise ApiError("InvalidInputException", "Exactly one resource must be given.")
        kind, r = next(iter(res.items()))
        if kind == "Catalog":
            return {"Catalog": {}}, None
        if kind == "Database":
            r["CatalogId"] = self._catalog(r.get("CatalogId"))
            self._need_db(r["CatalogId"], r["Name"])
            return {"Database": r}, (r["CatalogId"], r["Name"])
        if kind == "Table":
            r["CatalogId"] = self._catalog(r.get("CatalogId"))
            if "TableWildcard" in r:
                if r.get("Name"):
                    raise ApiError("InvalidInputException",
                                   "Name and TableWildcard cannot both be given.")
                self._need_db(r["CatalogId"], r["DatabaseName"])
            elif r.get("Name"):
                self._table(r["CatalogId"], r["DatabaseName"], r["Name"])
            else:
                raise ApiError("InvalidInputException", "Table Name or TableWildcard required.")
            return {"Table": r}, (r["CatalogId"], r["DatabaseName"])
        if kind == "TableWithColumns":
            r["CatalogId"] = self._catalog(r.get("CatalogId"))
            gt = self._table(r["CatalogId"], r["DatabaseName"], r["Name"])
            if "ColumnNames" in r and "ColumnWildcard" in r:
                raise ApiError("InvalidInputException",
                               "ColumnNames and ColumnWildcard cannot both be given.")
            known = self._columns(gt)
            cols = list(r.get("ColumnNames") or []) + list(
                (r.get("ColumnWildcard") or {}).get("ExcludedColumnNames") or [])
            if known is not None and [x for x in cols if x not in known]:
                raise ApiError("InvalidInputException", "Columns %s are not in table %s."
                               % ([x for x in cols if x not in known], r["Name"]))
            if "ColumnNames" in r:
                r["ColumnNames"] = sorted(r["ColumnNames"])
            return {"TableWithColumns": r}, (r["CatalogId"], r["DatabaseName"])
        if kind == "DataCellsFilter":
            r["TableCatalogId"] = self._catalog(r.get("TableCatalogId"))
            for f in ("DatabaseName", "TableName", "Name"):
                if not r.get(f):
                    raise ApiError("InvalidInputException", "DataCellsFilter %s required." % f)
            with self.lock:
                if self._filter_key(r) not in self.filters:
                    raise ApiError("EntityNotFoundException",
                                   "Data cells filter %s not found." % r["Name"])
            return {"DataCellsFilter": r}, (r["TableCatalogId"], r["DatabaseName"])
        if kind == "LFTag":
            r["CatalogId"] = self._catalog(r.get("CatalogId"))
            with self.lock:
                allowed = self._tag(r["CatalogId"], r["TagKey"])
                bad = [v for v in r["TagValues"] if v not in allowed and v != "*"]
            if bad:
                raise ApiError("InvalidInputException",
                               "Tag values %s do not exist for tag key %s" % (bad, r["TagKey"]))
            r["TagValues"] = sorted(r["TagValues"])
            return {"LFTag": r}, None
        if kind == "LFTagPolicy":
            r["CatalogId"] = self._catalog(r.get("CatalogId"))
            if not r.get("Expression"):
                raise ApiError("InvalidInputException",
                               "An LF-Tag policy needs an Expression.")
            with self.lock:
                for e in r["Expression"]:
                    allowed = self._tag(r["CatalogId"], e["TagKey"])
                    bad = [v for v in e["TagValues"] if v not in allowed]
                    if bad:
                        raise ApiError("InvalidInputException",
                                       "Tag values %s do not exist for tag key %s"
                                       % (bad, e["TagKey"]))
            r["Expression"] = sorted(({"TagKey": e["TagKey"],
                                       "TagValues": sorted(e["TagValues"])}
                                      for e in r["Expression"]), key=lambda e: e["TagKey"])
            return {"LFTagPolicy": r}, None
        if kind == "DataLocation":
            r["CatalogId"] = self._catalog(r.get("CatalogId"))
            return {"DataLocation": r}, None
        raise ApiError("InvalidInputException", "Unsupported resource %s" % kind)

    @staticmethod
    def _perm_out(e):
        out = {"Principal": {"DataLakePrincipalIdentifier": e["Principal"]},
               "Resource": copy.deepcopy(e["Resource"]),
               "Permissions": sorted(e["Permissions"]),
               "PermissionsWithGrantOption": sorted(e["PermissionsWithGrantOption"]),
               "LastUpdated": e["LastUpdated"], "LastUpdatedBy": e["LastUpdatedBy"]}
        if e.get("RamShare"):
            out["AdditionalDetails"] = {"ResourceShare": [e["RamShare"]]}
        return out

    def _grant(self, principal, res, perms, grantable):
        nres, share_db = self._norm_resource(res)
        pid = principal["DataLakePrincipalIdentifier"]
        with self.lock:
            k = (pid, _canon(nres))
            e = self.perms.get(k)
            if e is None:
                e = self.perms[k] = {"Principal": pid, "Resource": nres, "Permissions": set(),
                                     "PermissionsWithGrantOption": set()}
            e["Permissions"] |= set(perms)
            e["PermissionsWithGrantOption"] |= set(grantable)
            e["LastUpdated"] = _now()
            e["LastUpdatedBy"] = "arn:aws:iam::%s:user/standin" % self.account
            target = pid if ACCOUNT_RE.match(pid) else None
            if target is None and pid.startswith("arn:aws:iam::"):
                target = pid.split(":")[4]
            if target and target != self.account and share_db:
                e["RamShare"] = self._share(target, share_db)
            self._tbac_shares()

    @staticmethod
    def _target_account(pid):
        if ACCOUNT_RE.match(pid):
            return pid
        if pid.startswith("arn:aws:iam::"):
            return pid.split(":")[4]
        return None

    def _tbac_shares(self):
        """An LF-Tag policy granted to another account shares, through RAM, every
        database holding a database or table whose tags match it (now or after a
        later AddLFTagsToResource).  Caller holds self.lock."""
        for e in self.perms.values():
            pol = e["Resource"].get("LFTagPolicy")
            target = self._target_account(e["Principal"])
            if not pol or not target or target == self.account or not pol.get("Expression"):
                continue
            for rk, tags in list(self.assigned.items()):
                if rk[0] not in ("db", "table") or rk[1] != pol["CatalogId"]:
                    continue
                eff = dict(tags)
                if rk[0] == "table":
                    eff = dict(self.assigned.get(("db", rk[1], rk[2]), {}), **tags)
                if all(eff.get(x["TagKey"], [None])[0] in x["TagValues"]
                       for x in pol["Expression"]):
                    self._share(target, (rk[1], rk[2]))

    def _revoke(self, principal, res, perms, grantable):
        nres, _db = self._norm_resource(res)
        pid = principal["DataLakePrincipalIdentifier"]
        with self.lock:
            k = (pid, _canon(nres))
            e = self.perms.get(k)
            if e is None or not (set(perms) & e["Permissions"] or
                                 set(grantable) & e["PermissionsWithGrantOption"]):
                raise ApiError("InvalidInputException",
                               "No permissions revoked. Grantee has no permissions and no "
                               "grantable permissions on resource")
            e["Permissions"] -= set(perms)
            e["PermissionsWithGrantOption"] -= set(perms) | set(grantable)
            if not e["Permissions"] and not e["PermissionsWithGrantOption"]:
                del self.perms[k]

    def op_GrantPermissions(self, req):
        self._grant(req["Principal"], req["Resource"], req["Permissions"],
                    req.get("PermissionsWithGrantOption") or [])
        return {}

    def op_RevokePermissions(self, req):
        self._revoke(req["Principal"], req["Resource"], req["Permissions"],
                     req.get("PermissionsWithGrantOption") or [])
        return {}

    def _batch(self, req, op, fn):
        failures = []
        ids = [e["Id"] for e in req["Entries"]]
        if len(set(ids)) != len(ids):
            raise ApiError("InvalidInputException", "Entry ids must be unique.")
        for entry in req["Entries"]:
            fault = self._entry_fault(op)
            err = None
            if fault:
                err = fault
            elif not entry.get("Principal") or not entry.get("Resource") or \
                    "Permissions" not in entry:
                err = ("InvalidInputException", "Principal, Resource and Permissions are "
                       "required.")
            else:
                try:
                    fn(entry["Principal"], entry["Resource"], entry["Permissions"],
                       entry.get("PermissionsWithGrantOption") or [])
                except ApiError as e:
                    err = (e.code, e.message)
            if err:
                failures.append({"RequestEntry": entry,
                                 "Error": {"ErrorCode": err[0], "ErrorMessage": err[1]}})
        return {"Failures": failures}

    def op_BatchGrantPermissions(self, req):
        return self._batch(req, "BatchGrantPermissions", self._grant)

    def op_BatchRevokePermissions(self, req):
        return self._batch(req, "BatchRevokePermissions", self._revoke)

    def _related(self, want, have):
        """IncludeRelated: a Table query also shows the table's column grants and
        the database's TableWildcard grant."""
        if "Table" in want and want["Table"].get("Name"):
            t = want["Table"]
            if "TableWithColumns" in have:
                h = have["TableWithColumns"]
                return (h["CatalogId"], h["DatabaseName"], h["Name"]) == \
                    (t["CatalogId"], t["DatabaseName"], t["Name"])
            if "Table" in have and "TableWildcard" in have["Table"]:
                h = have["Table"]
                return (h["CatalogId"], h["DatabaseName"]) == (t["CatalogId"], t["DatabaseName"])
        return False

    def op_ListPermissions(self, req):
        principal = (req.get("Principal") or {}).get("DataLakePrincipalIdentifier")
        rtype = req.get("ResourceType")
        want = None
        if req.get("Resource"):
            want, _db = self._norm_resource(req["Resource"])
        related = str(req.get("IncludeRelated", "")).upper() == "TRUE"
        type_key = {"CATALOG": "Catalog", "DATABASE": "Database", "TABLE": "Table",
                    "DATA_LOCATION": "DataLocation", "LF_TAG": "LFTag",
                    "LF_TAG_POLICY": "LFTagPolicy", "LF_TAG_POLICY_DATABASE": "LFTagPolicy",
                    "LF_TAG_POLICY_TABLE": "LFTagPolicy",
                    "LF_NAMED_TAG_EXPRESSION": "LFTagExpression"}.get(rtype)
        with self.lock:
            items = []
            for (pid, canon), e in sorted(self.perms.items()):
                if principal and pid != principal:
                    continue
                res = e["Resource"]
                if want is not None and canon != _canon(want) and \
                        not (related and self._related(want, res)):
                    continue
                if type_key and type_key not in res and not (
                        type_key == "Table" and "TableWithColumns" in res):
                    continue
                if rtype in ("LF_TAG_POLICY_DATABASE", "LF_TAG_POLICY_TABLE") and \
                        res["LFTagPolicy"].get("ResourceType") != rtype.rsplit("_", 1)[1]:
                    continue
                items.append(self._perm_out(e))
        page, nxt = _page(items, req)
        out = {"PrincipalResourcePermissions": page}
        if nxt:
            out["NextToken"] = nxt
        return out

    # ------------------------------------------------------------ settings
    def op_GetDataLakeSettings(self, req):
        with self.lock:
            return {"DataLakeSettings": copy.deepcopy(self.settings)}

    def op_PutDataLakeSettings(self, req):
        with self.lock:
            self.settings = copy.deepcopy(req["DataLakeSettings"])
        return {}

    # ------------------------------------------------------------ RAM
    def _share(self, receiver, db):
        """The RAM share (ARN) that carries db to receiver, with a PENDING
        invitation when it is new (cross-account version 3+, outside an
        organization).  Caller holds self.lock."""
        k = (receiver, db[0], db[1])
        s = self.shares.get(k)
        if s is None:
            sid = str(uuid.uuid4())
            arn = "arn:aws:ram:%s:%s:resource-share/%s" % (self._region(), self.account, sid)
            s = self.shares[k] = {"arn": arn, "name": "LakeFormation-V4-%s" % sid[:12].upper(),
                                  "receiver": receiver, "database": db[1]}
            inv = "arn:aws:ram:%s:%s:resource-share-invitation/%s" % (
                self._region(), self.account, uuid.uuid4())
            self.invitations[inv] = {
                "resourceShareInvitationArn": inv, "resourceShareName": s["name"],
                "resourceShareArn": arn, "senderAccountId": self.account,
                "receiverAccountId": receiver, "invitationTimestamp": _now(),
                "status": "PENDING"}
        return s["arn"]

    @staticmethod
    def _region():
        return os.environ.get("AWS_REGION", "us-east-1")

    def op_GetResourceShareInvitations(self, req):
        arns = req.get("resourceShareInvitationArns")
        shares = req.get("resourceShareArns")
        if arns and shares:
            raise ApiError("InvalidParameterException", "Give invitation ARNs or share ARNs, "
                           "not both.")
        self._check_invitation_arns(arns or [])
        me = self._me()
        with self.lock:
            mine = {a: i for a, i in self.invitations.items() if i["receiverAccountId"] == me}
            items = [copy.deepcopy(i) for i in mine.values()
                     if (not arns or i["resourceShareInvitationArn"] in arns) and
                     (not shares or i["resourceShareArn"] in shares)]
            if arns:
                missing = [a for a in arns if a not in mine]
                if missing:
                    raise ApiError("ResourceShareInvitationArnNotFoundException",
                                   "ResourceShareInvitationArn %s not found" % missing[0])
        mx = req.get("maxResults")
        if mx is not None and not 1 <= int(mx) <= 500:
            raise ApiError("InvalidMaxResultsException", "maxResults must be 1 to 500")
        try:
            page, nxt = _page(items, req, "nextToken", "maxResults", 500)
        except ApiError:
            raise ApiError("InvalidNextTokenException", "The next token is invalid.")
        out = {"resourceShareInvitations": page}
        if nxt:
            out["nextToken"] = nxt
        return out

    @staticmethod
    def _check_invitation_arns(arns):
        """RAM parses an ARN before it looks it up: a string that is not a resource share
        invitation's ARN is MalformedArnException, one that parses but names nothing the caller
        received is ResourceShareInvitationArnNotFoundException."""
        for a in arns:
            parts = a.split(":", 5)
            if len(parts) != 6 or parts[0] != "arn" or parts[2] != "ram" or \
                    not ACCOUNT_RE.match(parts[4]) or \
                    not parts[5].startswith("resource-share-invitation/"):
                raise ApiError("MalformedArnException",
                               "The format of ARN %s is not valid." % a)

    def _me(self):
        """The calling account (RAM answers only about invitations it received)."""
        return getattr(self.caller, "account", None) or self.account

    def op_AcceptResourceShareInvitation(self, req):
        arn = req["resourceShareInvitationArn"]
        self._check_invitation_arns([arn])
        me = self._me()
        with self.lock:
            inv = self.invitations.get(arn)
            if inv is None or inv["receiverAccountId"] != me:
                raise ApiError("ResourceShareInvitationArnNotFoundException",
                               "ResourceShareInvitationArn %s not found" % arn)
            if inv["status"] == "ACCEPTED":
                raise ApiError("ResourceShareInvitationAlreadyAcceptedException",
                               "The invitation %s has already been accepted" % arn)
            if inv["status"] == "REJECTED":
                raise ApiError("ResourceShareInvitationAlreadyRejectedException",
                               "The invitation %s has already been rejected" % arn)
            inv["status"] = "ACCEPTED"
            out = {"resourceShareInvitation": copy.deepcopy(inv)}
        if req.get("clientToken"):
            out["clientToken"] = req["clientToken"]
        return out

    def op_RejectResourceShareInvitation(self, req):
        arn = req["resourceShareInvitationArn"]
        self._check_invitation_arns([arn])
        me = self._me()
        with self.lock:
            inv = self.invitations.get(arn)
            if inv is None or inv["receiverAccountId"] != me:
                raise ApiError("ResourceShareInvitationArnNotFoundException",
                               "ResourceShareInvitationArn %s not found" % arn)
            if inv["status"] != "PENDING":
                raise ApiError("ResourceShareInvitationAlreadyAcceptedException"
                               if inv["status"] == "ACCEPTED" else
                               "ResourceShareInvitationAlreadyRejectedException",
                               "The invitation %s is %s" % (arn, inv["status"]))
            inv["status"] = "REJECTED"
            return {"resourceShareInvitation": copy.deepcopy(inv)}

    # ------------------------------------------------------------ persistence
    def _path(self):
        d = getattr(self.sd, "state_dir", None)
        return os.path.join(d, "lakeformation.json") if d else None

    def save(self):
        """DIR/lakeformation.json, so a restarted stand-in keeps what was granted."""
        p = self._path()
        if not p:
            return
        data = self.to_json()
        with self.lock:
            tmp = p + ".tmp"
            with open(tmp, "w") as f:
                json.dump(data, f)
            os.replace(tmp, p)

    def load(self):
        p = self._path()
        if p and os.path.exists(p):
            with open(p) as f:
                self.from_json(json.load(f))

    def to_json(self):
        with self.lock:
            return {"tags": [[c, k, v] for (c, k), v in self.tags.items()],
                    "assigned": [[list(r), t] for r, t in self.assigned.items()],
                    "filters": [[list(k), f] for k, f in self.filters.items()],
                    "perms": [dict(e, Permissions=sorted(e["Permissions"]),
                                   PermissionsWithGrantOption=sorted(
                                       e["PermissionsWithGrantOption"]))
                              for e in self.perms.values()],
                    "settings": self.settings,
                    "shares": [[list(k), s] for k, s in self.shares.items()],
                    "invitations": list(self.invitations.values())}

    def from_json(self, d):
        with self.lock:
            self.tags = {(c, k): v for c, k, v in d.get("tags", [])}
            self.assigned = {tuple(r): t for r, t in d.get("assigned", [])}
            self.filters = {tuple(k): f for k, f in d.get("filters", [])}
            self.perms = {}
            for e in d.get("perms", []):
                e["Permissions"] = set(e["Permissions"])
                e["PermissionsWithGrantOption"] = set(e["PermissionsWithGrantOption"])
                self.perms[(e["Principal"], _canon(e["Resource"]))] = e
            self.settings = d.get("settings", self.settings)
            self.shares = {tuple(k): s for k, s in d.get("shares", [])}
            self.invitations = {i["resourceShareInvitationArn"]: i
                                for i in d.get("invitations", [])}


def _over_max(value, shape, where):
    """The model's `max` (string length, list length, integer value), which botocore's
    validator leaves to the service: the first breach as a message, or ''."""
    mx = shape.metadata.get("max")
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                msg = _over_max(v, shape.members[k], "%s.%s" % (where, k))
                if msg:
                    return msg
        return ""
    if t == "list" and isinstance(value, list):
        if mx is not None and len(value) > mx:
            return "Invalid length for parameter %s, value: %d, valid max length: %d" % (
                where, len(value), mx)
        for i, v in enumerate(value):
            msg = _over_max(v, shape.member, "%s[%d]" % (where, i))
            if msg:
                return msg
        return ""
    if t == "map" and isinstance(value, dict):
        for k, v in value.items():
            msg = _over_max(v, shape.value, "%s.%s" % (where, k))
            if msg:
                return msg
        return ""
    if mx is None:
        return ""
    if t == "string" and isinstance(value, str) and len(value) > mx:
        return "Invalid length for parameter %s, value: %d, valid max length: %d" % (
            where, len(value), mx)
    if t in ("integer", "long") and isinstance(value, int) and value > mx:
        return "Invalid value for parameter %s, value: %d, valid max value: %d" % (
            where, value, mx)
    return ""


class _Signed:
    """headers_to_sign for verification: exactly the client's SignedHeaders."""

    def __new__(cls, request, signed):
        from botocore.awsrequest import HTTPHeaders
        h = HTTPHeaders()
        for name in signed:
            v = request.headers.get(name)
            if v is not None:
                h[name.lower()] = v
        return h
