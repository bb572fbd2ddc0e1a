#!/usr/bin/env python3
"""The API held to its contract: starts a fresh dev stack (in memory, with the demo data),
onboards a client for the first demo company, seeds what the fuzzer cannot invent (real
continuation keys, a few supplier cards and records of each other kind of master data), then
runs schemathesis with every check against the stack's /openapi.json. Exits with
schemathesis's status.

    python3 infra/contract/run.py [extra schemathesis arguments]

Needs `schemathesis` (pip install schemathesis) and builds the `ledgerdock` binary first.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, headers=None, body=None, form=None, auth=None):
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if auth is not None:
        import base64
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def main():
    subprocess.run(
        ["cargo", "build", "--quiet", "-p", "ledgerdock-infra", "--bin", "ledgerdock"],
        cwd=ROOT, check=True,
    )
    binary = os.path.join(ROOT, "target", "debug", "ledgerdock")
    data_dir = tempfile.mkdtemp(prefix="ledgerdock-contract-")
    api, s3, ddb, sqs = free_port(), free_port(), free_port(), free_port()
    stack = subprocess.Popen(
        [binary, "dev", "--in-memory", "--seed-demo", "--data-dir", data_dir,
         "--port", str(api), "--s3-port", str(s3), "--dynamodb-port", str(ddb),
         "--sqs-port", str(sqs)],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(data_dir, "stack.log"), "w"),
    )
    try:
        base = f"http://127.0.0.1:{api}"
        # The stack writes demo.json once it is up and seeded.
        demo_file = os.path.join(data_dir, "demo.json")
        for _ in range(240):
            if os.path.exists(demo_file) or stack.poll() is not None:
                break
            time.sleep(0.5)
        demo = json.load(open(demo_file))
        company = demo["companies"][0]["companyId"]

        # A client of its own, with a rate limit the fuzzer will not reach.
        created = subprocess.run(
            [binary, "clients", "create", "--name", "schemathesis", "--company", company,
             "--scopes", "invoices.read,invoices.write,imports.read,imports.write,webhooks.manage",
             "--rate-limit", "1000000", "--dynamodb-endpoint", f"http://127.0.0.1:{ddb}", "--json"],
            check=True, capture_output=True, text=True,
        )
        credentials = json.loads(created.stdout)["credentials"]
        status, token = call("POST", f"{base}/oauth2/token", form={"grant_type": "client_credentials"},
                             auth=(credentials["clientId"], credentials["clientSecret"]))
        assert status == 200, token
        headers = {"Authorization": f"Bearer {token['access_token']}", "Lightyear-Company-ID": company}

        # Supplier cards to page through, imported through the API itself.
        records = [{"externalId": f"CONTRACT-{i}", "name": f"Contract supplier {i}"} for i in range(3)]
        def imported(import_type, records):
            """Starts an import through the API and waits for its end; the job."""
            status, job = call("POST", f"{base}/v1/import-jobs", headers,
                               {"type": import_type, "records": records})
            assert status == 202, job
            for _ in range(120):
                status, job = call("GET", f"{base}/v1/import-jobs/{job['jobId']}", headers)
                if job["status"] != "IN_PROGRESS":
                    break
                time.sleep(0.25)
            return job

        job = imported("SUPPLIER_CARDS", records)
        assert job["status"] == "FINISHED", job

        # Two records of each other kind of master data (two options of one tracking
        # category), so each list has a second page.
        master = {
            "GL_ACCOUNTS": [{"code": f"C{i}", "name": "Account", "type": "EXPENSE"} for i in range(2)],
            "TAX_CODES": [{"code": f"C{i}", "name": "Tax", "rate": "20", "type": "INPUT"} for i in range(2)],
            "TRACKING_CATEGORIES": [{"category": "C0", "optionCode": f"O{i}", "name": "Option"}
                                    for i in range(2)],
            "PURCHASE_ORDERS": [{"poNumber": f"C{i}", "supplierExternalId": "CONTRACT-0",
                                 "currency": "EUR", "issueDate": "2026-11-30", "status": "OPEN",
                                 "lines": [{"lineNumber": 1, "quantity": "1", "unitPrice": "1",
                                            "amount": "1", "accountCode": "C0", "taxCode": "C0"}]}
                                for i in range(2)],
        }
        for kind, records in master.items():
            job = imported(kind, records)
            assert job["status"] == "FINISHED" and job["counts"]["created"] == 2, job

        # A webhook subscription with two entries in its delivery log (pings to a closed port,
        # logged as failed), so its log has a second page.
        status, subscription = call("POST", f"{base}/v1/webhook-subscriptions", headers,
                                    {"url": f"http://127.0.0.1:{free_port()}/hooks",
                                     "events": ["invoice.exported"]})
        assert status == 201, subscription
        hooks = f"/v1/webhook-subscriptions/{subscription['id']}"
        for _ in range(2):
            status, ping = call("POST", f"{base}{hooks}/test", headers, {})
            assert status == 200 and not ping["delivered"], ping

        # An invoice with a history of two changes (published with the demo data, then
        # claimed), so its history has a second page; the claim is this client's own.
        status, claimed = call("POST", f"{base}/v1/invoices/claims", headers,
                               {"limit": 1, "leaseSeconds": 3600})
        assert status == 200 and claimed["invoiceIds"], claimed
        invoice = claimed["invoiceIds"][0]
        for _ in range(120):
            status, history = call("GET", f"{base}/v1/invoices/{invoice}/history", headers)
            if status == 200 and len(history["items"]) >= 2:
                break
            time.sleep(0.25)
        assert len(history["items"]) >= 2, history

        # A continuation key is signed by the server; none can be generated. Real ones, then.
        keys = {}
        for operation, path in (("listExportableInvoices", "/v1/invoices/exportable"),
                                ("listSuppliers", "/v1/suppliers"),
                                ("listGlAccounts", "/v1/gl-accounts"),
                                ("listTaxCodes", "/v1/tax-codes"),
                                ("listTrackingCategories", "/v1/tracking-categories"),
                                ("listPurchaseOrders", "/v1/purchase-orders"),
                                ("listWebhookDeliveries", f"{hooks}/deliveries")):
            status, page = call("GET", f"{base}{path}?limit=1", headers)
            assert status == 200 and page["continuationKey"], page
            keys[operation] = page["continuationKey"]

        config = os.path.join(data_dir, "schemathesis.toml")
        with open(os.path.join(HERE, "schemathesis.toml")) as template, open(config, "w") as out:
            out.write(template.read())
            out.write(f'\n[parameters]\n"header.Lightyear-Company-ID" = "{company}"\n"query.type" = "SUPPLIER_CARDS"\n')
            for operation, key in keys.items():
                out.write(f'\n[[operations]]\ninclude-operation-id = "{operation}"\n'
                          f'parameters = {{ "query.continuationKey" = "{key}" }}\n')
            # One record of each kind to read (the generated codes name none), and a tracking
            # category's key, which belongs to its category.
            for operation, parameter in (("getGlAccount", "path.code"), ("getTaxCode", "path.code"),
                                         ("getPurchaseOrder", "path.poNumber")):
                out.write(f'\n[[operations]]\ninclude-operation-id = "{operation}"\n'
                          f'parameters = {{ "{parameter}" = "C0" }}\n')
            status, page = call("GET", f"{base}/v1/tracking-categories/C0?limit=1", headers)
            assert status == 200 and page["continuationKey"], page
            out.write('\n[[operations]]\ninclude-operation-id = "getTrackingCategory"\n'
                      f'parameters = {{ "path.category" = "C0", '
                      f'"query.continuationKey" = "{page["continuationKey"]}" }}\n')
            # A history's key belongs to its invoice: both, then.
            status, page = call("GET", f"{base}/v1/invoices/{invoice}/history?limit=1", headers)
            assert status == 200 and page["continuationKey"], page
            out.write(f'\n[[operations]]\ninclude-operation-id = "getInvoiceHistory"\n'
                      f'parameters = {{ "path.invoiceId" = "{invoice}", '
                      f'"query.continuationKey" = "{page["continuationKey"]}" }}\n')
        env = dict(os.environ, SCHEMATHESIS_TELEMETRY="false")
        # Run in the run's own folder: schemathesis keeps its cache of failures (what
        # `st replay` reads) in .schemathesis/ under the working directory, which must not be
        # the checkout.
        result = subprocess.run(
            ["schemathesis", "--config-file", config, "run", f"{base}/openapi.json",
             "--checks", "all", "-H", f"Authorization: Bearer {token['access_token']}",
             *sys.argv[1:]],
            env=env, cwd=data_dir,
        )
        if result.returncode != 0:
            print(f"stack log: {os.path.join(data_dir, 'stack.log')}; "
                  f"to replay a failure, run `st replay <id>` in {data_dir}", file=sys.stderr)
        return result.returncode
    finally:
        stack.terminate()
        stack.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
