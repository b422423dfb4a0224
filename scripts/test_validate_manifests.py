#!/usr/bin/env python3
"""The manifest validator refuses what the API server refuses: each case breaks one thing in a
shipped manifest and expects the validator's message for it. Run with the CRD folder:

  ROOMGATE_CRDS=../shared/crds python3 -m unittest scripts/test_validate_manifests.py
"""

import copy
import os
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import validate_manifests as vm  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRDS = os.environ.get("ROOMGATE_CRDS", os.path.join(ROOT, "..", "shared", "crds"))


def docs(path):
    with open(os.path.join(ROOT, path)) as f:
        return [d for d in yaml.load_all(f, Loader=vm.Loader) if isinstance(d, dict)]


class Validator(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(CRDS):
            raise RuntimeError(f"the CRD folder {CRDS} is missing (../shared/crds beside the repository)")
        cls.crds = vm.load_crds(CRDS)
        cls.wasmplugin = docs("deploy/istio/wasmplugin.yaml")[0]
        cls.policy, cls.proxy = docs("deploy/envoy-gateway/extension-policy.yaml")[:2]

    def errors(self, doc):
        schema, _ = self.crds[(doc["apiVersion"], doc["kind"])]
        return vm.validate(copy.deepcopy(doc), schema)

    def refused(self, doc, fragment):
        errors = self.errors(doc)
        self.assertTrue(any(fragment in e for e in errors), f"{fragment!r} not in {errors}")

    def test_the_shipped_manifests_pass(self):
        for doc in (self.wasmplugin, self.policy, self.proxy):
            self.assertEqual(self.errors(doc), [], doc["kind"])

    def test_an_unknown_field_is_refused(self):
        d = copy.deepcopy(self.wasmplugin)
        d["spec"]["vmConfig"]["envs"] = []
        self.refused(d, "spec.vmConfig.envs: unknown field")
        d = copy.deepcopy(self.wasmplugin)
        d["metadata"]["label"] = {}
        self.refused(d, "metadata.label: unknown field")
        d = copy.deepcopy(self.proxy)
        d["spec"]["provider"]["kubernetes"]["envoyDeployment"]["container"]["environment"] = []
        self.refused(d, "container.environment: unknown field")

    def test_an_unquoted_run_of_zeros_is_the_integer_0(self):
        text = ("apiVersion: gateway.envoyproxy.io/v1alpha1\nkind: EnvoyExtensionPolicy\n"
                "metadata: {name: x, namespace: meet}\n"
                "spec:\n  targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: r}]\n"
                "  wasm:\n  - code:\n      type: HTTP\n      http:\n        url: https://example.com/a.wasm\n"
                "        sha256: " + "0" * 64 + "\n")
        doc = yaml.load(text, Loader=vm.Loader)
        self.assertEqual(doc["spec"]["wasm"][0]["code"]["http"]["sha256"], 0)
        self.refused(doc, "sha256: 0 is a integer, the CRD wants a string")

    def test_an_enum_and_a_type_are_checked(self):
        d = copy.deepcopy(self.wasmplugin)
        d["spec"]["match"] = [{"mode": "INBOUND"}]
        self.refused(d, "spec.match[0].mode: 'INBOUND' is not one of")
        d = copy.deepcopy(self.policy)
        d["spec"]["wasm"][0]["failOpen"] = "false"
        self.refused(d, "failOpen: 'false' is a string, the CRD wants a boolean")

    def test_cel_rules_are_evaluated(self):
        d = copy.deepcopy(self.wasmplugin)
        d["spec"]["targetRefs"] = [{"kind": "Gateway", "group": "gateway.networking.k8s.io", "name": "g"}]
        self.refused(d, "only one of targetRefs or selector can be set")
        d = copy.deepcopy(self.wasmplugin)
        d["spec"]["vmConfig"]["env"][0]["value"] = "inline-secret"
        self.refused(d, "value may only be set when valueFrom is INLINE")
        d = copy.deepcopy(self.wasmplugin)
        d["spec"]["url"] = "ftp://registry.example.com/roomgate"
        self.refused(d, "url must have schema one of")
        d = copy.deepcopy(self.policy)
        d["spec"]["wasm"][0]["code"]["type"] = "HTTP"
        self.refused(d, "If type is HTTP, http field needs to be set")

    def test_a_list_map_key_must_be_unique(self):
        d = copy.deepcopy(self.wasmplugin)
        d["spec"]["vmConfig"]["env"].append(dict(d["spec"]["vmConfig"]["env"][0]))
        self.refused(d, "duplicate keys ['name']")

    def test_a_required_field_is_required(self):
        d = copy.deepcopy(self.proxy)
        del d["spec"]["provider"]["type"]
        self.refused(d, "the required field 'type' is missing")


if __name__ == "__main__":
    unittest.main()
