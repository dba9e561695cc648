#!/usr/bin/env python3
"""scripts/k8s_schemas.py - lays out the JSON schemas kubeconform reads, once, at bootstrap.

    k8s_schemas.py OUT_DIR KUBERNETES_VALIDATE_WHEEL K8S_VERSION[,K8S_VERSION...] CRD.yaml...

Writes into OUT_DIR (made fresh; nothing is fetched here, the caller downloads):

  kubernetes/v<ver>-standalone-strict/<kind>-<group>-<version>.json
      the strict Kubernetes API schemas bundled in the kubernetes-validate wheel
      (kubernetes_validate/kubernetes-json-schema/v<ver>-local-strict/), one file per resource
      kind, each made standalone. The wheel's refs are absolute paths
      ("/api/_definitions.json#/$defs/...") that kubeconform's file loader cannot open, under
      an "$id" on the web (https://kubernetes.io/api/...) that even a relative ref would
      resolve against. Each kind gets the definitions it reaches (transitively) as its own
      "$defs", its refs become "#/$defs/...", and the "$id" goes. Standalone also keeps
      kubeconform fast: pointing at the shared 4.6 MB _definitions.json instead, it parses
      that file again for every kind it compiles (seconds of CPU per run). Only resource
      kinds (an `kind` enum) are written: kubeconform loads nothing else. The directory name
      is kubeconform's own default layout, so `-schema-location OUT_DIR/kubernetes` needs no
      template.
  crds/<group>/<kind>_<version>.json
      one schema per served version of each CustomResourceDefinition, from its
      openAPIV3Schema, converted the way kubeconform's scripts/openapi2jsonschema.py does
      (written here, not copied): objects that declare properties refuse others (what -strict
      means for a built-in kind), x-kubernetes-int-or-string becomes string|integer,
      nullable adds null. An object with x-kubernetes-preserve-unknown-fields keeps accepting
      anything, as the API server would. kubeconform finds them with
      `-schema-location 'OUT_DIR/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json'`.

Exit 0 and a one-line summary; 1 with the reason when an input is missing or unusable.
"""
import json
import os
import shutil
import sys
import zipfile

import yaml

WHEEL_ROOT = "kubernetes_validate/kubernetes-json-schema/"


def refs(node, found):
    """Collects the definition names of every "$ref" under node and rewrites each to
    "#/$defs/<name>" (the same document)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and "#/$defs/" in v:
                # "/api/_definitions.json#/$defs/X" in a kind's file, "#/$defs/X" inside
                # _definitions.json itself: the same definition either way.
                name = v.split("#/$defs/", 1)[1]
                found.add(name)
                node[k] = "#/$defs/" + name
            else:
                refs(v, found)
    elif isinstance(node, list):
        for v in node:
            refs(v, found)


def standalone(doc, defs):
    """doc with the definitions it reaches as its own $defs."""
    doc.pop("$id", None)
    todo, own = set(), {}
    refs(doc, todo)
    while todo:
        name = todo.pop()
        if name in own:
            continue
        d = json.loads(json.dumps(defs[name]))
        d.pop("$id", None)
        own[name] = d
        found = set()
        refs(d, found)
        todo |= found - set(own)
    if own:
        doc["$defs"] = own
    return doc


def is_resource(doc):
    return bool(doc.get("properties", {}).get("kind", {}).get("enum"))


def kubernetes(out, wheel, versions):
    n = 0
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        for ver in versions:
            src = f"{WHEEL_ROOT}v{ver}-local-strict/"
            members = [m for m in names if m.startswith(src) and m.endswith(".json")]
            if not members:
                raise SystemExit(f"k8s_schemas: {wheel} has no schemas for Kubernetes {ver}")
            defs = json.loads(z.read(src + "_definitions.json"))["$defs"]
            dst = os.path.join(out, "kubernetes", f"v{ver}-standalone-strict")
            os.makedirs(dst)
            for m in members:
                doc = json.loads(z.read(m))
                if not is_resource(doc):
                    continue
                with open(os.path.join(dst, os.path.basename(m)), "w") as fh:
                    json.dump(standalone(doc, defs), fh, separators=(",", ":"))
                n += 1
    return n


def convert(node):
    """openAPIV3Schema (structural, Kubernetes' dialect) -> JSON schema kubeconform checks."""
    if isinstance(node, list):
        return [convert(v) for v in node]
    if not isinstance(node, dict):
        return node
    if node.get("x-kubernetes-int-or-string") is True or node.get("format") == "int-or-string":
        out = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
        if "description" in node:
            out["description"] = node["description"]
        return out
    out = {k: convert(v) for k, v in node.items()}
    if out.pop("nullable", False) is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if ("properties" in out and "additionalProperties" not in out
            and out.get("x-kubernetes-preserve-unknown-fields") is not True):
        out["additionalProperties"] = False
    return out


def crds(out, files):
    n = 0
    for f in files:
        with open(f) as fh:
            docs = [d for d in yaml.safe_load_all(fh) if d]
        found = False
        for d in docs:
            if d.get("kind") != "CustomResourceDefinition":
                continue
            spec = d["spec"]
            group = spec["group"]
            kind = spec["names"]["kind"].lower()
            for v in spec["versions"]:
                schema = v.get("schema", {}).get("openAPIV3Schema")
                if not schema or not v.get("served", True):
                    continue
                dst = os.path.join(out, "crds", group)
                os.makedirs(dst, exist_ok=True)
                with open(os.path.join(dst, f"{kind}_{v['name']}.json"), "w") as fh:
                    json.dump(convert(schema), fh, separators=(",", ":"))
                n += 1
                found = True
        if not found:
            raise SystemExit(f"k8s_schemas: {f} holds no CustomResourceDefinition with a schema")
    return n


def main(argv):
    if len(argv) < 4:
        raise SystemExit(__doc__.split("\n\n")[1])
    out, wheel, versions, files = argv[1], argv[2], argv[3].split(","), argv[4:]
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    nk = kubernetes(tmp, wheel, versions)
    nc = crds(tmp, files)
    # Replaced whole, so an interrupted run never leaves a half-written cache behind.
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    print(f"k8s_schemas: {nk} Kubernetes schemas ({', '.join(versions)}), "
          f"{nc} CRD schemas from {len(files)} files -> {out}")


if __name__ == "__main__":
    main(sys.argv)
