"""The Lake Formation request bodies snaplake builds, checked by botocore's own parameter
validator over its lakeformation service model (not by our code), plus the model's enums
(ParamValidator checks types, required members, lengths and unknown members, not enum values):
the unit test test_share writes every body it builds (SL_SHARE_DUMP_BODIES) and each must
validate for its operation. Needs no stack: only the unit test binary and the venv's botocore."""

import json
import os
import subprocess

import botocore.session
import pytest
from botocore.validate import ParamValidator

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def unit_binary():
    for d in ("build/asan", "build", "build/plain"):
        p = os.path.join(ROOT, d, "tests/unit/test_share")
        if os.access(p, os.X_OK):
            return p
    pytest.skip("tests/unit/test_share is not built (make BUILD=build/asan SAN=1 all)")


def operations():
    model = botocore.session.get_session().get_service_model("lakeformation")
    return {m.http["requestUri"]: m
            for m in (model.operation_model(n) for n in model.operation_names)}


def enum_errors(value, shape, path="$"):
    """Values of enum strings (Permission, ResourceType, ...) the model does not list."""
    errs = []
    if shape.type_name == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                errs += enum_errors(v, shape.members[k], path + "." + k)
    elif shape.type_name == "list" and isinstance(value, list):
        for i, v in enumerate(value):
            errs += enum_errors(v, shape.member, "%s[%d]" % (path, i))
    elif shape.type_name == "string" and shape.enum and value not in shape.enum:
        errs.append("%s: %r is not one of %s" % (path, value, shape.enum))
    return errs


def check(body, op):
    report = ParamValidator().validate(body, op.input_shape)
    errs = enum_errors(body, op.input_shape)
    if report.has_errors():
        errs.append(report.generate_report())
    return errs


def test_every_body_validates(tmp_path):
    out = tmp_path / "bodies.tsv"
    env = dict(os.environ, SL_SHARE_DUMP_BODIES=str(out))
    r = subprocess.run([unit_binary()], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    ops = operations()
    seen, problems = set(), []
    for line in out.read_text().splitlines():
        path, body = line.split("\t", 1)
        op = ops[path]
        errs = check(json.loads(body), op)
        if errs:
            problems.append("%s %s:\n%s" % (path, body, "\n".join(errs)))
        seen.add(op.name)
    assert not problems, "\n".join(problems)
    # Every call the share stage makes was built at least once.
    assert seen >= {"CreateLFTag", "UpdateLFTag", "AddLFTagsToResource",
                    "RemoveLFTagsFromResource", "CreateDataCellsFilter",
                    "UpdateDataCellsFilter", "DeleteDataCellsFilter", "BatchGrantPermissions",
                    "BatchRevokePermissions", "GetResourceLFTags", "ListPermissions",
                    "ListDataCellsFilter", "ListLFTags"}, seen


def test_the_validator_refuses_a_wrong_shape():
    """The check above can fail: a body with a misspelt member and a bad permission does not
    validate."""
    op = operations()["/BatchGrantPermissions"]
    body = {"Entries": [{"Id": "0", "Principal": {"DataLakePrincipalIdentifer": "1"}}]}
    assert check(body, op)
    body = {"Entries": [{"Id": "0", "Permissions": ["READ"]}]}
    assert check(body, op) == ["$.Entries[0].Permissions[0]: 'READ' is not one of %s"
                               % op.input_shape.members["Entries"].member.members["Permissions"]
                               .member.enum]
