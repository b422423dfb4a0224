#!/usr/bin/env python3
"""Validate Kubernetes manifests against the platforms' real CRDs, as the API server does.

  validate_manifests.py CRD_DIR FILE...

Every YAML document in FILE... whose apiVersion and kind one of CRD_DIR's CustomResourceDefinitions
defines is checked against that CRD's openAPIV3Schema the way kube-apiserver checks a create with
strict field validation (kubectl's default):

- the YAML is read as Kubernetes reads it (YAML 1.1, PyYAML's SafeLoader, like sigs.k8s.io/yaml's
  go-yaml): an unquoted 000… is the integer 0, an unquoted `yes` is true;
- defaults are applied first, then types (integer, number, string, boolean, object, array,
  x-kubernetes-int-or-string, nullable), enum, pattern, lengths, bounds, required, list types
  (x-kubernetes-list-type map/set), oneOf/anyOf/allOf/not;
- unknown fields are rejected, except under x-kubernetes-preserve-unknown-fields;
- metadata is checked as ObjectMeta (known fields only, DNS-1123 names);
- every x-kubernetes-validations CEL rule on a node that is present is evaluated (cel-python, with
  Kubernetes' URL functions added); transition rules (oldSelf) do not apply to a create.

Documents of other kinds (a Deployment patch, a docker-compose file, an Envoy bootstrap) are listed
and skipped. Exit status 0 when every checked document is valid, 1 otherwise; a CRD_DIR without
CRDs, or a manifest of a CRD group with an unknown kind or version, is an error too.
"""

import os
import re
import sys
from urllib.parse import urlsplit

import celpy
import celpy.celtypes as ct
import re2  # google-re2 (a cel-python dependency): Go's regexp syntax, as the API server uses
import yaml

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
OBJECT_META = {"name", "namespace", "labels", "annotations", "generateName", "finalizers",
               "ownerReferences"}
INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


class Loader(yaml.SafeLoader):
    """SafeLoader (YAML 1.1, as Kubernetes reads it) that reads application tags such as
    docker-compose's `!reset` as null instead of failing: such files are no Kubernetes resource."""


Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def load_crds(crd_dir):
    crds = {}
    for name in sorted(os.listdir(crd_dir)):
        if not name.endswith((".yaml", ".yml")):
            continue
        with open(os.path.join(crd_dir, name)) as f:
            for doc in yaml.safe_load_all(f):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                for version in spec["versions"]:
                    if not version.get("served", True):
                        continue
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    crds[key] = (version["schema"]["openAPIV3Schema"], name)
    return crds


# ---- CEL ---------------------------------------------------------------------------------------

def _is_url(s):
    text = str(s)
    try:
        parts = urlsplit(text)
    except ValueError:
        return ct.BoolType(False)
    # Go's url.ParseRequestURI: an absolute URI (scheme:…) or an absolute path.
    ok = bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", text)) or text.startswith("/")
    return ct.BoolType(ok and " " not in text and parts is not None)


class _Url(ct.StringType):
    pass


def _url(s):
    if not _is_url(s):
        raise ValueError(f"url: {s!r} is not a URL")
    return _Url(str(s))


CEL_FUNCTIONS = {
    "isURL": _is_url,
    "url": _url,
    "getScheme": lambda u: ct.StringType(urlsplit(str(u)).scheme),
    "getHost": lambda u: ct.StringType(urlsplit(str(u)).netloc.rsplit("@", 1)[-1]),
    "getHostname": lambda u: ct.StringType(urlsplit(str(u)).hostname or ""),
    "getEscapedPath": lambda u: ct.StringType(urlsplit(str(u)).path),
    "lowerAscii": lambda s: ct.StringType(str(s).lower()),
    "upperAscii": lambda s: ct.StringType(str(s).upper()),
}
CEL_ENV = celpy.Environment()
_programs = {}
RULES_EVALUATED = [0]


def cel_rule(rule, value, path, errors):
    if re.search(r"\boldSelf\b", rule):
        return  # a transition rule: checked on updates only
    try:
        program = _programs.get(rule)
        if program is None:
            program = CEL_ENV.program(CEL_ENV.compile(rule), functions=CEL_FUNCTIONS)
            _programs[rule] = program
        result = program.evaluate({"self": celpy.json_to_cel(value)})
        RULES_EVALUATED[0] += 1
    except Exception as e:  # noqa: BLE001 - any failure to evaluate is a failed check
        errors.append(f"{path}: cannot evaluate the CRD's rule {rule!r}: {e}")
        return
    if isinstance(result, Exception) or not isinstance(result, ct.BoolType):
        errors.append(f"{path}: the CRD's rule {rule!r} gave {result!r}, not a boolean")
    elif not result:
        errors.append(f"{path}: {rule!r} is false")


# ---- structural schema -------------------------------------------------------------------------

def type_ok(schema, value):
    if value is None:
        return bool(schema.get("nullable"))
    if schema.get("x-kubernetes-int-or-string"):
        return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)
    t = schema.get("type")
    if t is None:
        return True
    return {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
    }[t](value)


def kind_of(value):
    return {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object",
            list: "array", type(None): "null"}.get(type(value), type(value).__name__)


def apply_defaults(schema, value):
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name not in value and "default" in sub:
                value[name] = sub["default"]
            if name in value:
                apply_defaults(sub, value[name])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name in value:
                if name not in (schema.get("properties") or {}):
                    apply_defaults(extra, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(schema["items"], item)


def check(schema, value, path, errors, branch=False):
    """Appends to `errors` everything wrong with `value` at `path`. In a oneOf/anyOf/allOf/not
    branch (`branch`), which a structural schema uses for value checks only, fields the branch
    does not name are not unknown."""
    before = len(errors)
    preserve = branch or bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    if not type_ok(schema, value):
        want = "integer or string" if schema.get("x-kubernetes-int-or-string") else schema.get("type")
        errors.append(f"{path}: {value!r} is a {kind_of(value)}, the CRD wants a {want}")
        return
    if value is None:
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re2.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']!r}")
        if len(value) > schema.get("maxLength", len(value)):
            errors.append(f"{path}: longer than {schema['maxLength']} characters")
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']} characters")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi = INT_RANGES.get(schema.get("format"), (None, None))
        if lo is not None and not lo <= value <= hi:
            errors.append(f"{path}: {value} does not fit {schema['format']}")
        if "minimum" in schema and (value < schema["minimum"] or (schema.get("exclusiveMinimum") and value == schema["minimum"])):
            errors.append(f"{path}: {value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and (value > schema["maximum"] or (schema.get("exclusiveMaximum") and value == schema["maximum"])):
            errors.append(f"{path}: {value} is above the maximum {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for name in schema.get("required") or []:
            if name not in value:
                errors.append(f"{path}: the required field {name!r} is missing")
        for name, sub in value.items():
            sub_path = f"{path}.{name}"
            if name in props:
                check(props[name], sub, sub_path, errors, branch)
            elif isinstance(extra, dict):
                check(extra, sub, sub_path, errors, branch)
            elif not (extra is True or preserve):
                errors.append(f"{sub_path}: unknown field")
        if len(value) > schema.get("maxProperties", len(value)):
            errors.append(f"{path}: more than {schema['maxProperties']} fields")
        if len(value) < schema.get("minProperties", 0):
            errors.append(f"{path}: fewer than {schema['minProperties']} fields")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{path}: more than {schema['maxItems']} items")
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                check(schema["items"], item, f"{path}[{i}]", errors, branch)
        list_type = schema.get("x-kubernetes-list-type")
        if list_type == "set" or schema.get("uniqueItems"):
            seen = [yaml.safe_dump(v) for v in value]
            if len(set(seen)) != len(seen):
                errors.append(f"{path}: duplicate items in a set")
        if list_type == "map":
            keys = [tuple(repr(item.get(k)) for k in schema.get("x-kubernetes-list-map-keys", []))
                    for item in value if isinstance(item, dict)]
            if len(set(keys)) != len(keys):
                errors.append(f"{path}: duplicate keys {schema.get('x-kubernetes-list-map-keys')} in a map list")
    for sub in schema.get("allOf") or []:
        check(sub, value, path, errors, True)
    if schema.get("anyOf"):
        if not any(not sub_errors(sub, value, path) for sub in schema["anyOf"]):
            errors.append(f"{path}: matches none of anyOf")
    if schema.get("oneOf"):
        matching = sum(1 for sub in schema["oneOf"] if not sub_errors(sub, value, path))
        if matching != 1:
            errors.append(f"{path}: matches {matching} of oneOf, not exactly one")
    if "not" in schema and not sub_errors(schema["not"], value, path):
        errors.append(f"{path}: matches the schema under not")
    if len(errors) == before:
        for v in schema.get("x-kubernetes-validations") or []:
            before_rule = len(errors)
            cel_rule(v["rule"], value, path, errors)
            if len(errors) > before_rule and v.get("message"):
                errors[-1] += f" ({v['message']})"


def sub_errors(schema, value, path):
    """Value validations of a oneOf/anyOf/allOf/not branch (structural: no new fields there)."""
    errs = []
    check(schema, value, path, errs, True)
    return errs


def check_metadata(meta, errors):
    if not isinstance(meta, dict):
        errors.append("metadata: not an object")
        return
    for name in meta:
        if name not in OBJECT_META:
            errors.append(f"metadata.{name}: unknown field")
    if not DNS1123_SUBDOMAIN.match(str(meta.get("name", ""))) or len(str(meta.get("name", ""))) > 253:
        errors.append(f"metadata.name: {meta.get('name')!r} is not a DNS-1123 subdomain")
    if "namespace" in meta and not DNS1123_LABEL.match(str(meta["namespace"])):
        errors.append(f"metadata.namespace: {meta['namespace']!r} is not a DNS-1123 label")
    for field in ("labels", "annotations"):
        if field in meta and not (isinstance(meta[field], dict) and all(isinstance(v, str) for v in meta[field].values())):
            errors.append(f"metadata.{field}: must map strings to strings")


def validate(doc, schema):
    errors = []
    apply_defaults(schema, doc)
    top = dict(schema)
    props = dict(top.get("properties") or {})
    props.pop("metadata", None)
    # Every object has these, whether or not the CRD's schema spells them out.
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    top["properties"] = props
    body = {k: v for k, v in doc.items() if k != "metadata"}
    check(top, body, "", errors)
    if "metadata" not in doc:
        errors.append("metadata: missing")
    else:
        check_metadata(doc["metadata"], errors)
    return [e.lstrip(".") for e in errors]


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    crd_dir, files = argv[1], argv[2:]
    if not os.path.isdir(crd_dir):
        print(f"validate_manifests: the CRD folder {crd_dir} is missing (it is ../shared/crds beside the "
              "repository: the platforms' CustomResourceDefinitions)", file=sys.stderr)
        return 1
    crds = load_crds(crd_dir)
    if not crds:
        print(f"validate_manifests: no CustomResourceDefinition in {crd_dir}", file=sys.stderr)
        return 1
    groups = {api.split("/")[0] for api, _ in crds}
    checked = failed = passed = 0
    for path in files:
        with open(path) as f:
            docs = list(yaml.load_all(f, Loader=Loader))
        for i, doc in enumerate(docs):
            where = f"{path}#{i + 1}" if len(docs) > 1 else path
            if not isinstance(doc, dict) or "apiVersion" not in doc:
                print(f"skip  {where}: not a Kubernetes resource")
                continue
            key = (doc.get("apiVersion"), doc.get("kind"))
            if key not in crds:
                if str(key[0]).split("/")[0] in groups:
                    print(f"FAIL  {where}: {key[1]} {key[0]} is in none of the CRDs in {crd_dir}")
                    failed += 1
                else:
                    print(f"skip  {where}: {key[1]} {key[0]} (no CRD: a core resource)")
                continue
            schema, crd_file = crds[key]
            errors = validate(doc, schema)
            checked += 1
            if errors:
                failed += 1
                print(f"FAIL  {where}: {key[1]} against {crd_file}")
                for e in errors:
                    print(f"        {e}")
            else:
                passed += 1
                print(f"ok    {where}: {key[1]} against {crd_file}")
    print(f"({RULES_EVALUATED[0]} CEL rules evaluated)")
    print(f"manifests: {passed} passed, {failed} failed")
    return 1 if failed or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
