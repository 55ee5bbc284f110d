# METADATA
# title: Response decision
# description: |
#   Decides whether a model server response may go back to the client.
#   Entrypoint: enclave_gate/response/decision. Input: ResponseInput in
#   src/policy/input.ts; body is present only for JSON responses.
package enclave_gate.response

import data.enclave_gate.lib

# Reasons this package emits (stable, machine-readable; see request.rego):
#
#   default_deny                     no rule decided (a safety net)
#   pii_in_response:<type>:<pointer> the JSON response body holds PII of
#                                    <type> in the string at <pointer>
#
# Withholding is the only remedy for now; redaction comes with `redact`.

# As in request.rego, only a positive check allows; anything unexpected from
# the scanner ends in the default deny.

default decision := {"allow": false, "reasons": ["default_deny"]}

decision := lib.allow_decision if {
	body_clean
} else := lib.deny(pii_reasons) if {
	count(pii_reasons) > 0
}

has_body if "body" in object.keys(input)

# Undefined when the response has no (JSON) body.
pii_findings := enclave_gate.pii.scan(input.body)

body_clean if not has_body

body_clean if {
	is_array(pii_findings)
	count(pii_findings) == 0
}

pii_reasons := lib.pii_reasons("pii_in_response", pii_findings)
