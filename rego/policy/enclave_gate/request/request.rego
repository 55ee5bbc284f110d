# METADATA
# title: Request decision
# description: |
#   Decides whether a client request may reach the model server.
#   Entrypoint: enclave_gate/request/decision. Input: RequestInput in
#   src/policy/input.ts. The proxy denies anything that is not a
#   well-formed decision.
package enclave_gate.request

import data.enclave_gate.lib

# Reasons this package emits. They are stable and machine-readable: the proxy
# logs them and uses the part before the first ":" as a metric label, so change
# one only together with its consumers.
#
#   default_deny                  no rule decided (a safety net; not expected)
#   path_not_allowed              the path is not one of the routes below
#   method_not_allowed            known path, other method; status 405 with
#                                 an "allow" header listing the methods
#   content_type_not_json         a POST whose content-type is not
#                                 application/json; status 415
#   body_not_inspected            body_size > 0 but no parsed body in the
#                                 input, so it could not be checked for PII
#   pii_detected:<type>:<pointer> the body holds PII of <type> ("email",
#                                 "payment_card") in the string at JSON
#                                 pointer <pointer> ("" = the whole body)
#
# How the rules are shaped, and why: the decision allows only when every
# check holds positively; the deny branches after it merely explain which check
# failed, in the order path, method, content type, body (the first failing one
# decides; the body stage lists every finding). Anything else - say a scanner
# result that is not an array - falls through to the default deny. Negations
# only ever apply to rules without arguments: in Rego, `not f(input.x)` is
# undefined, not true, when input.x is missing, which would skip a deny.
#
# Caller identity (docs/identity.md). This policy does not look at who is
# calling; the proxy has already refused invalid credentials with 401 before
# the policy runs, so whatever is in input.peer verified. To add a check, put
# it next to the others in the allowing branch, for example:
#
#   caller_known if input.peer.certificate.organization == "Bank A"  # tls.clientCAs
#   caller_known if input.peer.jwt.party == "bank-a"                 # identity.jwt
#   caller_known if input.peer.api_key.id == "bank-b-batch"          # identity.apiKeys
#
# rego/examples/multi_party/ is a whole per-party policy built that way.

default decision := {"allow": false, "reasons": ["default_deny"]}

decision := lib.allow_decision if {
	method_allowed
	content_type_acceptable
	body_clean
} else := lib.deny(["path_not_allowed"]) if {
	not allowed_methods
} else := {
	"allow": false,
	"status": 405,
	"reasons": ["method_not_allowed"],
	"headers": {"allow": concat(", ", sort(allowed_methods))},
} if {
	not method_allowed
} else := lib.deny_with_status(415, ["content_type_not_json"]) if {
	not content_type_acceptable
} else := lib.deny(body_reasons) if {
	count(body_reasons) > 0
}

# Model routes with a fixed path, and the methods each accepts: OpenAI-compatible
# (chat, completions, embeddings, models, responses), Anthropic-style messages,
# Ollama's native chat and generate, and the demo's fraud scoring. Their
# responses, streamed or not, pass the response policy (docs/streaming.md).
exact_routes := {
	"/api/chat": {"POST"},
	"/api/generate": {"POST"},
	"/inference": {"POST"},
	"/v1/chat/completions": {"POST"},
	"/v1/completions": {"POST"},
	"/v1/embeddings": {"POST"},
	"/v1/messages": {"POST"},
	"/v1/models": {"GET"},
	"/v1/responses": {"POST"},
}

# GET /v1/models/<id>: one id segment, or two for Hugging Face style
# "<org>/<name>" ids as vLLM and TGI serve them. The pattern runs on the raw
# path, which is what the upstream receives, and admits no "%" and no segment
# starting with ".", so neither percent-encoding nor dot segments can make an
# approved path mean something else upstream. regex.match is RE2 (linear).
model_route := `^/v1/models/[A-Za-z0-9_][A-Za-z0-9._:@+~-]*(/[A-Za-z0-9_][A-Za-z0-9._:@+~-]*)?$`

# allowed_methods is the method set of the route input.path names; undefined
# for any other path.
allowed_methods := methods if {
	methods := exact_routes[input.path]
} else := {"GET"} if {
	regex.match(model_route, input.path)
}

method_allowed if input.method in allowed_methods

# Only POST carries a body on these routes, and the model servers parse it as
# JSON whatever the header says, so the header must say JSON.
content_type_acceptable if input.method != "POST"

content_type_acceptable if lib.is_json_media_type(input.headers["content-type"])

has_body if "body" in object.keys(input)

# The proxy scans the body once in TypeScript and passes the findings as
# input.pii whenever it passes a body. The policy reads the findings, never the
# body itself: so the body does not cross into wasm at all (the proxy leaves
# out input members no rule refers to; docs/policy.md, "What the policy is
# given"), nor back out into the builtin. Without findings nothing is clean.
pii_findings := input.pii

body_clean if {
	not has_body
	input.body_size == 0
}

body_clean if {
	is_array(pii_findings)
	count(pii_findings) == 0
}

# A body the client sent but the proxy did not parse cannot be checked, so it
# is refused rather than forwarded unseen (fail closed).
body_reasons contains "body_not_inspected" if {
	not has_body
	input.body_size > 0
}

body_reasons contains reason if {
	some reason in lib.pii_reasons("pii_detected", pii_findings)
}

# A body without the proxy's findings was not scanned: refused, not trusted.
body_reasons contains "body_not_scanned" if {
	has_body
	not findings_given
}

findings_given if is_array(pii_findings)
