"""Gives an API Gateway REST proxy event from `sam local generate-event apigateway aws-proxy`
(read on stdin) the route, query, body, headers and Cognito authorizer claims of one ledgerdock
call, and writes it to stdout. Used by generate.sh."""
import json
import sys

method, resource, path, query, body, company, client, stage = sys.argv[1:9]
event = json.load(sys.stdin)

event["httpMethod"] = method
event["resource"] = resource
event["path"] = path
event["requestContext"]["httpMethod"] = method
event["requestContext"]["resourcePath"] = resource
event["requestContext"]["path"] = f"/{stage}{path}"
event["requestContext"]["stage"] = stage
event["stageVariables"] = None

# Path parameters by name, as API Gateway fills them from the resource's {segments}.
params = {}
for template, value in zip(resource.split("/"), path.split("/")):
    if template.startswith("{") and template.endswith("}"):
        params[template[1:-1]] = value
event["pathParameters"] = params or None

query = None if query == "-" else json.loads(query)
event["queryStringParameters"] = query
event["multiValueQueryStringParameters"] = (
    {k: [v] for k, v in query.items()} if query else None
)

if body == "-":
    event["body"] = None
    event["isBase64Encoded"] = False
else:
    event["body"] = body
    event["isBase64Encoded"] = False

headers = {
    "Accept": "application/json",
    "Authorization": "Bearer <access token from the dev stack's /oauth2/token>",
    "Host": "1234567890.execute-api.us-east-1.amazonaws.com",
    "Lightyear-Company-ID": company,
    "User-Agent": "Custom User Agent String",
    "X-Forwarded-For": "127.0.0.1, 127.0.0.2",
    "X-Forwarded-Port": "443",
    "X-Forwarded-Proto": "https",
}
if body != "-":
    headers["Content-Type"] = "application/json"
event["headers"] = headers
event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}

# What a Cognito user pool authorizer hands a REST API function for a client_credentials
# access token: every claim as a string, the dates in Java's Date.toString() form.
event["requestContext"]["authorizer"] = {
    "claims": {
        "sub": client,
        "token_use": "access",
        "scope": "ledgerdock/invoices.read ledgerdock/invoices.write "
        "ledgerdock/imports.read ledgerdock/imports.write ledgerdock/webhooks.manage",
        "auth_time": "1795507200",
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE",
        "exp": "Sun Nov 22 09:00:00 UTC 2026",
        "iat": "Sun Nov 22 08:00:00 UTC 2026",
        "version": "2",
        "jti": "2f5b1c3e-8d47-4a8e-b1f0-6c2d9e7a4b10",
        "client_id": client,
    }
}

json.dump(event, sys.stdout, indent=2)
print()
