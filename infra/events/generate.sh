#!/usr/bin/env bash
# Regenerates the events in this folder: each starts as the payload `sam local generate-event`
# writes (API Gateway REST proxy, S3 put, EventBridge schedule) and is then given what the
# function needs, aimed at the demo data of `ledgerdock dev --seed-demo`: the demo company and
# its first invoice, and the authorizer claims Cognito puts in a REST API event for a
# client_credentials access token. publish-invoice has no AWS event shape (the platform invokes
# it directly), so its event is the documented one. Needs `sam` (pip install aws-sam-cli).
set -euo pipefail
cd "$(dirname "$0")"
export SAM_CLI_TELEMETRY=0

company=5b7e4d1a-0c3f-4a8e-9b21-6f0d2c7a9e11   # Demo Trading Ltd
invoice=5b7e4d1a-0c3f-4a8e-9b21-6f0d00000001   # its first demo invoice
second=5b7e4d1a-0c3f-4a8e-9b21-6f0d00000002    # and the next three, for the bulk calls
third=5b7e4d1a-0c3f-4a8e-9b21-6f0d00000003
fourth=5b7e4d1a-0c3f-4a8e-9b21-6f0d00000004
client=demo1trading00000000000000              # its demo client
job=0e9c2f4a-5b6d-4e7f-8a9b-0c1d2e3f4a5b      # an import job id (404 until one exists)
subscription=7d1f3b2a-9c8e-4d6f-a5b4-c3d2e1f0a9b8  # a webhook subscription id (404 until one exists)
event=evt_0b6c3f1e9d2a4c5b8e7f6a1d2c3b4a59         # an event id (404 until one exists)
hooks=/v1/webhook-subscriptions
stage=live

# function  method  resource  path  query(JSON or -)  body(JSON or -)
routes=(
  "list-exportable-invoices GET /v1/invoices/exportable /v1/invoices/exportable {\"limit\":\"25\"} -"
  "get-invoice GET /v1/invoices/{invoiceId} /v1/invoices/$invoice - -"
  "get-invoice-download-url GET /v1/invoices/{invoiceId}/download-url /v1/invoices/$invoice/download-url {\"format\":\"pdf\"} -"
  "get-invoice-history GET /v1/invoices/{invoiceId}/history /v1/invoices/$invoice/history {\"limit\":\"25\"} -"
  "complete-invoice-export POST /v1/invoices/{invoiceId}/complete /v1/invoices/$invoice/complete - {\"externalId\":\"ERP-1001\"}"
  "reject-invoice-export POST /v1/invoices/{invoiceId}/reject /v1/invoices/$invoice/reject - {\"reason\":\"Purchase order number missing\",\"code\":\"PO_MISSING\"}"
  "bulk-complete-invoice-exports POST /v1/invoices/complete /v1/invoices/complete - {\"items\":[{\"invoiceId\":\"$second\",\"externalId\":\"ERP-1002\"},{\"invoiceId\":\"$third\",\"externalId\":\"ERP-1003\"}]}"
  "claim-invoice-exports POST /v1/invoices/claims /v1/invoices/claims - {\"limit\":10,\"leaseSeconds\":300}"
  "bulk-reject-invoice-exports POST /v1/invoices/reject /v1/invoices/reject - {\"items\":[{\"invoiceId\":\"$fourth\",\"reason\":\"Duplicate of INV-1002\",\"code\":\"DUPLICATE\"}]}"
  "start-import-job POST /v1/import-jobs /v1/import-jobs - {\"type\":\"SUPPLIER_CARDS\",\"records\":[{\"externalId\":\"SAM-SUP-1\",\"name\":\"Sam Local Supplies\",\"country\":\"GB\",\"currency\":\"GBP\",\"paymentTermsDays\":30,\"active\":true}]}"
  "get-import-job GET /v1/import-jobs/{jobId} /v1/import-jobs/$job - -"
  "list-suppliers GET /v1/suppliers /v1/suppliers {\"limit\":\"25\"} -"
  "get-supplier GET /v1/suppliers/{externalId} /v1/suppliers/SAM-SUP-1 - -"
  "list-gl-accounts GET /v1/gl-accounts /v1/gl-accounts {\"limit\":\"25\"} -"
  "get-gl-account GET /v1/gl-accounts/{code} /v1/gl-accounts/4000 - -"
  "list-tax-codes GET /v1/tax-codes /v1/tax-codes {\"limit\":\"25\"} -"
  "get-tax-code GET /v1/tax-codes/{code} /v1/tax-codes/S20 - -"
  "list-tracking-categories GET /v1/tracking-categories /v1/tracking-categories {\"limit\":\"25\"} -"
  "get-tracking-category GET /v1/tracking-categories/{category} /v1/tracking-categories/Department {\"limit\":\"25\"} -"
  "list-purchase-orders GET /v1/purchase-orders /v1/purchase-orders {\"limit\":\"25\"} -"
  "get-purchase-order GET /v1/purchase-orders/{poNumber} /v1/purchase-orders/PO-1001 - -"
  "create-webhook-subscription POST $hooks $hooks - {\"url\":\"https://erp.example.com/hooks/ledgerdock\",\"events\":[\"invoice.exported\",\"invoice.rejected\"],\"description\":\"ERP export confirmations\"}"
  "list-webhook-subscriptions GET $hooks $hooks - -"
  "get-webhook-subscription GET $hooks/{subscriptionId} $hooks/$subscription - -"
  "update-webhook-subscription PATCH $hooks/{subscriptionId} $hooks/$subscription - {\"enabled\":false}"
  "delete-webhook-subscription DELETE $hooks/{subscriptionId} $hooks/$subscription - -"
  "rotate-webhook-secret POST $hooks/{subscriptionId}/rotate-secret $hooks/$subscription/rotate-secret - -"
  "retire-webhook-secrets DELETE $hooks/{subscriptionId}/secrets/previous $hooks/$subscription/secrets/previous - -"
  "test-webhook-subscription POST $hooks/{subscriptionId}/test $hooks/$subscription/test - -"
  "list-webhook-deliveries GET $hooks/{subscriptionId}/deliveries $hooks/$subscription/deliveries {\"limit\":\"25\"} -"
  "list-events GET /v1/events /v1/events {\"limit\":\"25\"} -"
  "recover-webhook-deliveries POST $hooks/{subscriptionId}/recover $hooks/$subscription/recover - {\"since\":\"2026-11-22T00:00:00Z\"}"
  "resend-webhook-delivery POST $hooks/{subscriptionId}/deliveries/{eventId}/resend $hooks/$subscription/deliveries/$event/resend - -"
)

for route in "${routes[@]}"; do
  read -r function method resource path query body <<<"$route"
  sam local generate-event apigateway aws-proxy \
    --method "$method" --resource "$resource" --path "${path#/}" --stage "$stage" \
    | python3 "$PWD/shape_api_event.py" "$method" "$resource" "$path" "$query" "$body" \
      "$company" "$client" "$stage" >"$function.json"
done

sam local generate-event s3 put --bucket ledgerdock-local --key "imports/$company/$job" \
  >process-import-job.json
sam local generate-event cloudwatch scheduled-event >sweep-import-jobs.json
sam local generate-event cloudwatch scheduled-event >dispatch-webhooks.json
# The stream event's shape, around the demo invoice's header going from ready to exported (the
# change the fan-out turns into invoice.exported), its other records as they come.
stream_event=$(sam local generate-event dynamodb update)
STREAM_EVENT="$stream_event" python3 - "$company" "$invoice" >webhook-fanout.json <<'PY'
import json, os, sys
company, invoice = sys.argv[1], sys.argv[2]
event = json.loads(os.environ["STREAM_EVENT"])
def header(status):
    return {"PK": {"S": f"COMPANY#{company}"}, "SK": {"S": f"INVOICE#{invoice}"},
            "status": {"S": status}, "linesVersion": {"S": "1"},
            "updatedAt": {"S": "2026-11-22T10:00:00.123Z"}}
modify = next(r for r in event["Records"] if r["eventName"] == "MODIFY")
modify["dynamodb"]["Keys"] = {"PK": header("")["PK"], "SK": header("")["SK"]}
modify["dynamodb"]["OldImage"] = header("READY_FOR_EXPORT")
modify["dynamodb"]["NewImage"] = header("EXPORTED")
json.dump(event, sys.stdout, indent=2)
print()
PY
# The attempt queue's consumer: the shape SQS hands Lambda, its message naming a delivery of
# the demo company's first invoice (a claim finds nothing to send until one exists).
sqs_event=$(sam local generate-event sqs receive-message)
SQS_EVENT="$sqs_event" python3 - "$company" "$invoice" "$subscription" >deliver-webhooks.json <<'PY'
import json, os, sys
company, invoice, subscription = sys.argv[1], sys.argv[2], sys.argv[3]
event = json.loads(os.environ["SQS_EVENT"])
record = event["Records"][0]
record["body"] = json.dumps({
    "companyId": company, "subscriptionId": subscription,
    "eventAt": "2026-11-22T10:00:00.123Z", "eventId": f"evt_{invoice.replace('-', '')}",
    "attemptsMade": 0, "probe": False,
})
record["attributes"]["MessageGroupId"] = subscription
record["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:ledgerdock-webhook-attempts"
json.dump(event, sys.stdout, indent=2)
print()
PY
python3 - "$company" >publish-invoice.json <<'PY'
import json, sys
event = {
    "companyId": sys.argv[1],
    "invoice": {
        # A new invoice beside the demo ones; publishing it again replaces it.
        "invoiceId": "5b7e4d1a-0c3f-4a8e-9b21-6f0d0000a001",
        "documentType": "INVOICE",
        "invoiceNumber": "SAM-0001",
        "purchaseOrderNumber": "PO-SAM-1",
        "supplier": {"supplierId": "sup-1", "externalId": "ERP-SUP-1",
                     "name": "Acme Office Supplies", "taxNumber": "GB123456789"},
        "issueDate": "2026-11-01",
        "dueDate": "2026-12-01",
        "currency": "GBP",
        "subtotal": "40.00",
        "taxTotal": "8.00",
        "total": "48.00",
        "lineItems": [{
            "lineNumber": 1, "description": "Printer paper A4, box of 5 reams",
            "quantity": "2", "unitPrice": "20.00", "amount": "40.00",
            "taxCode": "S20", "taxAmount": "8.00", "accountCode": "6100",
        }],
    },
    # Soft copies already uploaded to documents/<companyId>/<invoiceId>/<format>.
    "documents": [],
}
json.dump(event, sys.stdout, indent=2)
print()
PY
