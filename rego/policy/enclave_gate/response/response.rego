# METADATA
# title: Response decision
# description: |
#   Decides whether, and how, a model server response may go back to the
#   client. Entrypoint: enclave_gate/response/decision. Input: ResponseInput in
#   src/policy/input.ts. It is asked once per response (input.body_format says
#   what the proxy can read: json, event-stream, ndjson, opaque, none) and, for
#   streams, again for every event that brings PII findings (input.event).
package enclave_gate.response

import data.enclave_gate.lib

# Reasons this package emits (stable, machine-readable; see request.rego):
#
#   default_deny                     no rule decided (a safety net)
#   response_not_inspectable         a body the proxy cannot read (not JSON,
#                                    SSE or NDJSON, or compressed) on a route
#                                    that returns model output; status 502
#   pii_in_response:<type>:<path>    PII that cannot be redacted: in an
#                                    object key, or in spans that partly
#                                    overlap; the response (or the rest of the
#                                    stream) is withheld
#
# The remedy for PII is redaction: an allowing decision whose "redact" lists
# {path, start, end, type} for every finding, which the proxy replaces with
# "[REDACTED:<TYPE>]" (docs/policy.md). <path> is a JSON pointer into the
# body (or, in a stream, into the event), or "stream:<channel>" for streamed
# assistant text (docs/streaming.md).

default decision := {"allow": false, "reasons": ["default_deny"]}

decision := lib.deny_with_status(502, ["response_not_inspectable"]) if {
	input.body_format == "opaque"
	model_route
} else := lib.allow_decision if {
	is_array(findings)
	count(findings) == 0
} else := {"allow": true, "reasons": [], "redact": redactions} if {
	is_array(findings)
	count(unredactable) == 0
} else := lib.deny(lib.pii_reasons("pii_in_response", unredactable)) if {
	count(unredactable) > 0
}

# Routes whose answers carry model output. Responses on them must be readable
# by the proxy: anything else would reach the client unchecked.
model_routes := {
	"/inference",
	"/v1/chat/completions",
	"/v1/completions",
	"/v1/responses",
	"/v1/messages",
	"/api/chat",
	"/api/generate",
}

model_route if input.request.path in model_routes

# Findings: from the proxy's stream scanner for a stream event, from its scan
# of a JSON body (input.pii, always given with a body), none when there is no
# body (a stream's start, opaque, none). A body without findings leaves this
# undefined, and the decision falls to the default deny. The body itself is
# never read (see request.rego).
findings := input.event.findings if {
	"event" in object.keys(input)
} else := input.pii if {
	"pii" in object.keys(input)
} else := [] if {
	not "body" in object.keys(input)
}

# A finding inside another on the same string (a card number inside an
# e-mail's local part) is covered by the outer one's placeholder. Equal spans
# of two types keep the type that sorts first.
contained(f) if {
	some g in findings
	g.path == f.path
	g.start <= f.start
	f.end <= g.end
	outer_wins(g, f)
}

outer_wins(g, f) if g.end - g.start > f.end - f.start

outer_wins(g, f) if {
	g.end - g.start == f.end - f.start
	g.type < f.type
}

redactions := [{"path": f.path, "start": f.start, "end": f.end, "type": f.type} |
	some f in findings
	not f.key
	not contained(f)
]

# Keys cannot be redacted (the proxy rewrites string values only), and two
# partly overlapping spans cannot both become placeholders.
unredactable contains f if {
	some f in findings
	f.key
}

unredactable contains f if {
	some i, j
	a := redactions[i]
	b := redactions[j]
	i != j
	a.path == b.path
	a.start < b.end
	b.start < a.end
	f := a
}
