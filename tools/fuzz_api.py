"""API fuzzing: schemathesis drives the local stack from infra/openapi.yaml, then the table is audited.

Run through scripts/fuzz-api (which starts the stack when no --api is given). Steps:
1. `schemathesis run` of infra/openapi.yaml against the API with every check, writing a HAR file of every request
   and answer. The spec is used as it is except its security: the local run takes the tenant from the X-Tenant-Id
   header (`TENANT_AUTH=header`) instead of the deployed JWT, so the copy given to schemathesis declares that header
   as the API key (a fresh tenant per run) — the auth checks then hold the local API to it (401 without it).
   tools/fuzz_hooks.py adds what JSON Schema cannot state (`from` < `to` <= `from` + 31 days; a cursor is one the
   API returned). `ignored_auth` is not checked: locally any X-Tenant-Id value is a tenant.
   Before it, a push integration of that tenant is created and its ingest key sent as `X-Ingest-Key` (the ingest
   operations' scheme in the copy), so the ingest routes are fuzzed with a valid key: their validation and their
   writes, not only the 401.
2. From the HAR: requests sent, operations covered (method + path template of the spec), answers >= 500.
3. Nothing written by a rejected request: every DynamoDB item, secret and schedule of the run's tenant belongs to
   an integration whose create was answered 201 (an integration, its name reservation, its import data) or a tenant
   token an accepted `POST /integrations/{type}/external-id` issued, and nothing else exists for the tenant.

Prints one summary line `fuzz-api: N requests, M/M operations, K responses >= 500, ...` and exits 1 when
schemathesis found a failure, an answer was >= 500, an operation was never called, or the audit found a stray
write.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import uuid

import yaml


def spec_operations(spec_path):
    spec = yaml.safe_load(open(spec_path))
    operations = []
    for path, item in spec["paths"].items():
        for method in ("get", "put", "post", "patch", "delete"):
            if method in item:
                pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "/?$"
                operations.append((method.upper(), path, re.compile(pattern)))
    # Literal paths first (API Gateway's route precedence: /integrations/test-connection before /integrations/{id}).
    operations.sort(key=lambda op: op[1].count("{"))
    return operations


def operation_of(operations, method, path):
    for op_method, template, pattern in operations:
        if op_method == method and pattern.match(path):
            return f"{op_method} {template}"
    return None


def audit(endpoint, tenant, created_ids, table, group, issued_tokens=()):
    """Items, secrets and schedules of `tenant` that no accepted create explains. `issued_tokens`: the types whose
    tenant token (e.g. Amazon Connect's external id) an accepted `POST /integrations/{type}/external-id` issued."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    stray = []
    dynamodb = session.client("dynamodb", endpoint_url=endpoint)
    prefix = f"T#{tenant}"
    items = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            pk = item["PK"]["S"]
            if pk == prefix or pk.startswith(prefix + "#"):
                items.append((pk, item["SK"]["S"], item))
    names = sum(1 for pk, sk, _ in items if pk == prefix and sk.startswith("NAME#"))
    records = sum(1 for pk, sk, _ in items if pk == prefix and sk.startswith("INT#"))
    for pk, sk, item in items:
        if pk == prefix and sk.startswith("NAME#"):
            if names > records:
                stray.append(f"item {pk} {sk} (more name reservations than integrations)")
            continue
        if pk == prefix and sk == "QUOTA":
            # The tenant's integration count: it must count exactly the integrations that exist.
            count = item.get("integrations", {}).get("N")
            if count is not None and int(count) != records:
                stray.append(f"item {pk} {sk} counts {count} integrations, {records} exist")
            continue
        if pk == prefix and sk.startswith("TOKEN#") and sk.split("#")[1] in issued_tokens:
            continue
        if pk == prefix and sk.startswith("TRATE#") and created_ids:
            # The tenant's ingest call counter of a minute: it counts every call an issued key authenticates,
            # accepted or not, as the key's own counter (IRATE#…, in the integration's partition) does.
            continue
        if not any(i in pk or i in sk or i in json.dumps(item) for i in created_ids):
            stray.append(f"item {pk} {sk}")
    secrets = session.client("secretsmanager", endpoint_url=endpoint)
    for page in secrets.get_paginator("list_secrets").paginate():
        for secret in page["SecretList"]:
            name = secret["Name"]
            if tenant in name and not any(i in name for i in created_ids):
                stray.append(f"secret {name}")
    scheduler = session.client("scheduler", endpoint_url=endpoint)
    schedules = scheduler.list_schedules(GroupName=group).get("Schedules", [])
    for schedule in schedules:
        detail = scheduler.get_schedule(GroupName=group, Name=schedule["Name"])
        target_input = detail.get("Target", {}).get("Input", "")
        if tenant in target_input and not any(i in schedule["Name"] for i in created_ids):
            stray.append(f"schedule {schedule['Name']}")
    return stray, len(items)


def create_push(api, tenant):
    """Creates the run's push integration through the API; returns its id and its ingest key."""
    import urllib.request

    body = json.dumps({"name": f"fuzz push {uuid.uuid4().hex[:8]}", "type": "push"}).encode()
    request = urllib.request.Request(
        f"{api}/integrations", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-Tenant-Id": tenant},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        created = json.loads(response.read())
    return created["id"], created["ingest_key"]["ingest_key"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", required=True)
    parser.add_argument("--aws-endpoint", required=True)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workers", default="2")
    parser.add_argument("--report-dir", required=True)
    parser.add_argument("--table", default="acd-local")
    parser.add_argument("--group", default="acd-imports")
    parser.add_argument("--schemathesis", required=True)
    args = parser.parse_args()

    tenant = f"fuzz-{uuid.uuid4().hex[:12]}"
    args.report_dir = os.path.abspath(args.report_dir)
    os.makedirs(args.report_dir, exist_ok=True)
    har = os.path.join(args.report_dir, "fuzz.har")
    spec = yaml.safe_load(open(args.spec))
    spec["components"]["securitySchemes"] = {
        "tenantHeader": {"type": "apiKey", "in": "header", "name": "X-Tenant-Id",
                         "description": "The local run's tenant (TENANT_AUTH=header)."},
        # The ingest routes keep their own scheme: the key of the push integration created below.
        "ingestKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Ingest-Key",
                            "description": "An ingest key of the run's push integration."},
    }
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "ingest" in operation.get("tags", []):
                operation["security"] = [{"ingestKeyHeader": []}]
    spec["security"] = [{"tenantHeader": []}]
    local_spec = os.path.join(args.report_dir, "openapi.local.yaml")
    with open(local_spec, "w") as out:
        yaml.safe_dump(spec, out, sort_keys=False, allow_unicode=True)
    hooks = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_hooks.py")
    config = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml")
    # Through the venv's own python: a venv's console scripts name the interpreter by the absolute path the venv was
    # created at (their `#!` line), which no longer exists when .tools is reached through another worktree's link.
    interpreter = os.path.join(os.path.dirname(args.schemathesis), "python")
    launcher = [interpreter, args.schemathesis] if os.path.exists(interpreter) else [args.schemathesis]
    # A push integration of the run's tenant and its ingest key: the ingest routes are fuzzed with a valid key
    # (what an accepted call writes belongs to this integration; the audit holds every other write to account).
    push_id, ingest_key = create_push(args.api, tenant)
    command = launcher + [
        "--config-file", config, "run", local_spec,
        "--url", args.api,
        "--header", f"X-Tenant-Id: {tenant}",
        "--header", f"X-Ingest-Key: {ingest_key}",
        "--checks", "all",
        # Locally any X-Tenant-Id value is a tenant: there are no invalid credentials to refuse.
        "--exclude-checks", "ignored_auth",
        "--max-examples", str(args.examples),
        "--workers", str(args.workers),
        # Not `coverage`: in schemathesis 4.32.5 it fails on this spec with an internal KeyError and builds bodies
        # with keys named after JSON pointers ("/credentials") as if they were valid; `fuzzing` covers every
        # operation with generated valid and invalid requests.
        "--phases", "examples,fuzzing",
        "--report", "har",
        "--report-har-path", har,
        "--request-timeout", "60",
        "--suppress-health-check", "all",
        "--no-color",
    ]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    print("fuzz-api: " + " ".join(command), flush=True)
    # In the report directory: schemathesis keeps its example database in `.schemathesis/` of its working directory.
    schemathesis_status = subprocess.call(
        command, env={**os.environ, "SCHEMATHESIS_HOOKS": hooks}, cwd=os.path.abspath(args.report_dir)
    )

    operations = spec_operations(args.spec)
    entries = json.load(open(har))["log"]["entries"]
    covered, server_errors, created, issued = set(), [], {push_id}, set()
    ingest_accepted = 0
    for entry in entries:
        request, response = entry["request"], entry["response"]
        path = re.sub(r"^[a-z]+://[^/]+", "", request["url"]).split("?")[0]
        op = operation_of(operations, request["method"], path)
        if op:
            covered.add(op)
        status = response["status"]
        if status >= 500:
            server_errors.append(f"{request['method']} {request['url']} -> {status}")
        if path.startswith("/ingest/") and status == 200:
            ingest_accepted += 1
        token = re.fullmatch(r"/integrations/([a-z0-9-]+)/external-id", path)
        if request["method"] == "POST" and token and status in (200, 201):
            issued.add(token.group(1).replace("-", "_"))
        if op == "POST /integrations" and status == 201:
            body = response.get("content", {}).get("text", "")
            try:
                created.add(json.loads(body)["id"])
            except (ValueError, KeyError, TypeError):
                server_errors.append(f"201 without an id: {body[:200]}")
    all_ops = {f"{m} {p}" for m, p, _ in operations}
    missing = sorted(all_ops - covered)
    stray, tenant_items = audit(args.aws_endpoint, tenant, created, args.table, args.group, issued)

    for line in server_errors[:20]:
        print(f"fuzz-api: >= 500: {line}")
    for op in missing:
        print(f"fuzz-api: never called: {op}")
    for line in stray[:20]:
        print(f"fuzz-api: written by a rejected request: {line}")
    print(
        f"fuzz-api: {len(entries)} requests, {len(covered)}/{len(all_ops)} operations, "
        f"{len(server_errors)} responses >= 500, {len(created)} integrations created, "
        f"{tenant_items} items of tenant {tenant}, {ingest_accepted} ingest calls accepted with the key, "
        f"{len(stray)} written by rejected requests, "
        f"schemathesis exit {schemathesis_status}",
        flush=True,
    )
    ok = schemathesis_status == 0 and not server_errors and not missing and not stray
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
