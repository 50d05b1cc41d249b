#!/usr/bin/env python3
"""Checks openapi.yaml and the API's answers against it.

    check_openapi.py SPEC < answers.json

SPEC is validated as OpenAPI 3.0 (openapi-spec-validator: what a client
generator checks first). answers.json is a list of answers the server
gave, each {"method", "route" (the spec's path, e.g.
"/cases/{court}/{category}/{year}/{word}/{number}"), "status", "headers"
([[name, value], ...]), "body"}. Each must be one the spec lists for its
operation: the status among its responses, the media type among the
response's content (or no body when it has none), the body valid against
the schema (JSON bodies), and every header the response declares present.
Prints one line per problem; exit status 1 if there is any.
"""

import json
import sys

import yaml
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate


def resolved(node, spec):
    """A node with its $ref followed (one level at a time, as deep as it goes)."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        node = spec
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def main():
    path = sys.argv[1]
    text = open(path, encoding="utf-8").read()
    spec = yaml.safe_load(text)
    problems = []
    try:
        validate(spec)
    except Exception as e:  # the validator's own error types vary by version
        problems.append(f"{path} is not valid OpenAPI: {str(e).splitlines()[0]}")
        print("\n".join(problems))
        return 1
    answers = json.load(sys.stdin)
    for a in answers:
        where = f"{a['method']} {a['route']} {a['status']}"
        operation = spec["paths"].get(a["route"], {}).get(a["method"].lower())
        if operation is None:
            problems.append(f"{where}: no such operation in the spec")
            continue
        responses = operation["responses"]
        response = responses.get(str(a["status"])) or responses.get("default")
        if response is None:
            problems.append(f"{where}: status not listed (the spec lists {', '.join(sorted(responses))})")
            continue
        response = resolved(response, spec)
        headers = {k.lower(): v for k, v in a["headers"]}
        for name in response.get("headers", {}):
            if name.lower() not in headers:
                problems.append(f"{where}: no {name} header, which the spec declares")
        content = response.get("content")
        media = headers.get("content-type", "").split(";")[0].strip()
        if not content:
            if a["body"]:
                problems.append(f"{where}: a body ({media}), where the spec says none")
            continue
        if media not in content:
            problems.append(f"{where}: {media or 'no content type'}, not {', '.join(content)}")
            continue
        if media != "application/json":
            continue
        schema = resolved(content[media].get("schema", {}), spec)
        try:
            body = json.loads(a["body"])
        except ValueError:
            problems.append(f"{where}: not JSON: {a['body'][:80]!r}")
            continue
        errors = schema_errors(spec, schema, body)
        problems += [f"{where}: {e}" for e in errors]
    print("\n".join(problems))
    return 1 if problems else 0


def schema_errors(spec, schema, body):
    """What is wrong with `body` under `schema`, whose $refs point into `spec`."""
    # The schema is the validator's root: its #/components/... refs resolve
    # against it, so it carries the spec's components (an unknown keyword
    # to the schema itself).
    rooted = {**schema, "components": spec["components"]}
    validator = OAS30Validator(rooted)
    return [f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}" for e in validator.iter_errors(body)]


if __name__ == "__main__":
    sys.exit(main())
