#!/usr/bin/env python3
"""Validates rendered Kubernetes manifests, every object, strictly.

Built-in kinds are checked against Kubernetes' own JSON schemas (the kubernetes-validate package,
strict: unknown fields are errors); custom resources against their CRD's openAPIV3Schema, read from
`<schema dir>/<group>/<kind>_<version>.json` (kubeconform layout). A custom resource with no schema
in any directory is an error, never a silent pass.

Usage: validate_manifests.py KUBE_VERSION RENDERED.yaml SCHEMA_DIR [SCHEMA_DIR ...]
Prints one line per invalid object and exits 1 when there is any.
"""
import json
import os
import sys

import jsonschema
import kubernetes_validate
import yaml


def crd_schema(dirs, api_version, kind):
    if "/" not in api_version:
        return None
    group, version = api_version.split("/", 1)
    for d in dirs:
        path = os.path.join(d, group, f"{kind.lower()}_{version}.json")
        if os.path.exists(path):
            with open(path) as f:
                return json.load(f)
    return None


def main():
    kube_version, rendered, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
    errors, checked = [], 0
    with open(rendered) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for doc in docs:
        api, kind = doc.get("apiVersion", "?"), doc.get("kind", "?")
        name = f"{kind} {doc.get('metadata', {}).get('namespace', '-')}/{doc.get('metadata', {}).get('name', '?')}"
        schema = crd_schema(dirs, api, kind)
        try:
            if schema is not None:
                # The schema itself is not checked: some CRD patterns are Go syntax that Python's `re`
                # refuses; every field that is present is validated.
                jsonschema.validators.validator_for(schema)(schema).validate(doc)
            else:
                kubernetes_validate.validate(doc, kube_version, strict=True)
            checked += 1
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{name}: no schema for {api} {kind} (neither Kubernetes {kube_version} nor {dirs})")
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as e:
            where = "/".join(str(p) for p in getattr(e, "absolute_path", getattr(e, "path", [])))
            errors.append(f"{name}: {where}: {getattr(e, 'message', e)}")
    for e in errors:
        print(e)
    print(f"{checked} valid, {len(errors)} invalid")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
