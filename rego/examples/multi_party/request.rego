# METADATA
# title: "Per-party request decision (example: banks sharing a fraud model)"
# description: |
#   Replaces the default request policy when several institutions share one
#   model. Each request is attributed to exactly one party from its verified
#   credentials (input.peer.certificate, input.peer.jwt, input.peer.api_key;
#   docs/identity.md), and that party's entry in data.multi_party.parties
#   decides which routes and models it may use, which PII types it may send
#   on which route, and its rate limits, which the proxy enforces from the
#   decision's rate_limit. The response policy stays the default one (PII in
#   answers is redacted for everyone).
#
#   A party entry (data.json in this directory is a complete example):
#     certificate_organizations  subject O= values of its client certificates
#     jwt_parties                values of the JWT claim "party"
#     api_keys                   ids of its API keys (identity.apiKeys)
#     routes                     {path: [methods]}
#     models                     model names it may ask for ("model" in the body)
#     pii_allowed                {path: [PII types]} it may send on that path
#     limits                     {requests_per_minute, burst, tokens_per_minute}
#     log_mask                   optional: JSON pointers the decision log erases
#                                from its requests (log.rego)
package enclave_gate.request

# Reasons this package emits:
#
#   party_unknown                 no verified credential names a party
#   party_ambiguous               the credentials name more than one party
#   route_not_allowed             the party may not use this method and path
#   content_type_not_json         a POST whose content-type is not JSON (415)
#   model_not_allowed             the body asks for a model the party may not use
#   body_not_inspected            a body was sent but not parsed
#   pii_detected:<type>:<pointer> PII of a type the party may not send here

parties := data.multi_party.parties

# Every party a verified credential of this request names.
named contains name if {
	some name, party in parties
	input.peer.certificate.organization in party.certificate_organizations
}

named contains name if {
	some name, party in parties
	input.peer.jwt.party in party.jwt_parties
}

named contains name if {
	some name, party in parties
	input.peer.api_key.id in party.api_keys
}

# The party of this request: defined only when exactly one is named.
party_name := name if {
	count(named) == 1
	some name in named
}

party := parties[party_name]

route_allowed if input.method in party.routes[input.path]

content_type_acceptable if input.method != "POST"

content_type_acceptable if {
	lower(trim_space(split(input.headers["content-type"], ";")[0])) == "application/json"
}

model_allowed if not input.body.model

model_allowed if input.body.model in party.models

has_body if "body" in object.keys(input)

findings := object.get(input, "pii", [])

# PII the party may not send on this path.
pii_reasons contains concat(":", ["pii_detected", f.type, f.path]) if {
	some f in findings
	not f.type in object.get(party.pii_allowed, input.path, [])
}

pii_reasons contains "body_not_inspected" if {
	not has_body
	input.body_size > 0
}

# The proxy's rate limit for this party, when its entry has limits.
rate_limit := object.union(object.filter(party.limits, ["requests_per_minute", "burst", "tokens_per_minute"]), {"key": party_name, "party": party_name})

base_allow := {"allow": true, "reasons": [], "headers": {"x-enclave-party": party_name}}

allow_decision := object.union(base_allow, {"rate_limit": rate_limit}) if {
	rate_limit
} else := base_allow

default decision := {"allow": false, "reasons": ["party_unknown"]}

decision := allow_decision if {
	route_allowed
	content_type_acceptable
	model_allowed
	count(pii_reasons) == 0
} else := {"allow": false, "reasons": ["party_ambiguous"]} if {
	count(named) > 1
} else := {"allow": false, "reasons": ["party_unknown"]} if {
	not party
} else := {"allow": false, "reasons": ["route_not_allowed"]} if {
	not route_allowed
} else := {"allow": false, "status": 415, "reasons": ["content_type_not_json"]} if {
	not content_type_acceptable
} else := {"allow": false, "reasons": ["model_not_allowed"]} if {
	not model_allowed
} else := {"allow": false, "reasons": sort([r | some r in pii_reasons])}
