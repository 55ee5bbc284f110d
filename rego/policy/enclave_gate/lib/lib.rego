# METADATA
# title: Shared helpers for enclave-gate decisions
# description: |
#   Builders for the decision object the proxy expects
#   ({allow, status?, reasons[], headers?}) and small predicates both the
#   request and the response policy use. Nothing here reads input directly.
package enclave_gate.lib

# The one allowing decision. Reasons stay empty so that a log reader can tell
# an allow from a deny by the reasons alone.
allow_decision := {"allow": true, "reasons": []}

# deny(reasons) builds a denying decision. Reasons are sorted so the decision,
# and therefore the decision log, does not depend on evaluation order.
deny(reasons) := {"allow": false, "reasons": sort(reasons)}

# deny_with_status(status, reasons) is deny/1 with an explicit HTTP status for
# the proxy to answer with (otherwise it uses 403).
deny_with_status(status, reasons) := {"allow": false, "status": status, "reasons": sort(reasons)}

# is_json_media_type(value) holds for a Content-Type whose media type is
# application/json, in any letter case, with or without parameters such as
# "; charset=utf-8". Suffix types (application/problem+json) do not count:
# the upstream model servers only accept plain JSON.
is_json_media_type(value) if {
	is_string(value)
	lower(trim_space(split(value, ";")[0])) == "application/json"
}

# pii_reasons(prefix, findings) turns enclave_gate.pii.scan findings into
# reasons "<prefix>:<type>:<json-pointer>". Only the type and the location
# leave the scanner, never the matched text, so reasons are safe to log.
pii_reasons(prefix, findings) := {concat(":", [prefix, f.type, f.path]) | some f in findings}
