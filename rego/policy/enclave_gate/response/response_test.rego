package enclave_gate.response_test

import data.enclave_gate.response

completion := {
	"request": {
		"method": "POST",
		"path": "/v1/chat/completions",
		"parsed_path": ["v1", "chat", "completions"],
		"request_id": "r-1",
	},
	"status": 200,
	"headers": {"content-type": "application/json"},
	"body_format": "json",
	"body": {"choices": [{"message": {"role": "assistant", "content": "hi"}}]},
	"pii": [],
}

stream_start := object.union(object.remove(completion, ["body", "pii"]), {
	"headers": {"content-type": "text/event-stream"},
	"body_format": "event-stream",
})

stream_event(findings) := object.union(stream_start, {"event": {
	"protocol": "openai-chat",
	"index": 3,
	"findings": findings,
}})

# completion with the proxy's findings for its body (input.pii).
with_pii(findings) := object.union(completion, {"pii": findings})

test_clean_response_allowed if {
	response.decision == {"allow": true, "reasons": []} with input as completion
}

test_response_without_body_allowed if {
	response.decision == {"allow": true, "reasons": []} with input as object.remove(completion, ["body", "pii"])
}

test_body_without_findings_denied if {
	# A body the proxy did not scan is never taken for clean.
	response.decision == {"allow": false, "reasons": ["default_deny"]} with input as object.remove(completion, ["pii"])
}

test_pii_in_response_redacted if {
	response.decision == {"allow": true, "reasons": [], "redact": [
		{"path": "/choices/0/message/content", "start": 20, "end": 36, "type": "payment_card"},
		{"path": "/choices/0/message/content", "start": 0, "end": 11, "type": "email"},
	]} with input as with_pii([
		{"type": "payment_card", "path": "/choices/0/message/content", "start": 20, "end": 36},
		{"type": "email", "path": "/choices/0/message/content", "start": 0, "end": 11},
	])
}

test_contained_finding_left_to_outer_placeholder if {
	response.decision.redact == [{"path": "/a", "start": 0, "end": 30, "type": "email"}] with input as with_pii(scan_nested)
}

scan_nested := [
	{"type": "email", "path": "/a", "start": 0, "end": 30},
	{"type": "payment_card", "path": "/a", "start": 2, "end": 18},
]

test_equal_spans_keep_one_type if {
	response.decision.redact == [{"path": "/a", "start": 5, "end": 15, "type": "phone"}] with input as with_pii(scan_twins)
}

scan_twins := [
	{"type": "uk_nhs", "path": "/a", "start": 5, "end": 15},
	{"type": "phone", "path": "/a", "start": 5, "end": 15},
]

test_partial_overlap_withheld if {
	response.decision == {"allow": false, "reasons": [
		"pii_in_response:email:/a",
		"pii_in_response:payment_card:/a",
	]} with input as with_pii(scan_overlap)
}

scan_overlap := [
	{"type": "payment_card", "path": "/a", "start": 0, "end": 19},
	{"type": "email", "path": "/a", "start": 15, "end": 31},
]

test_pii_in_key_withheld if {
	response.decision == {"allow": false, "reasons": ["pii_in_response:email:/[redacted-key]"]} with input as with_pii(scan_key)
}

scan_key := [{"type": "email", "path": "/[redacted-key]", "start": 0, "end": 11, "key": true}]

test_default_deny_when_findings_are_garbage if {
	# Neither allowed nor explained: the default must deny, not stay undefined.
	response.decision == {"allow": false, "reasons": ["default_deny"]} with input as with_pii("weird")
}

test_stream_start_allowed if {
	response.decision == {"allow": true, "reasons": []} with input as stream_start
}

test_stream_event_findings_redacted if {
	response.decision == {"allow": true, "reasons": [], "redact": [
		{"path": "stream:choices.0.content", "start": 12, "end": 29, "type": "email"},
		{"path": "/id", "start": 0, "end": 16, "type": "payment_card"},
	]} with input as stream_event([
		{"type": "email", "path": "stream:choices.0.content", "start": 12, "end": 29},
		{"type": "payment_card", "path": "/id", "start": 0, "end": 16},
	])
}

test_stream_event_key_finding_denied if {
	response.decision.allow == false with input as stream_event([{"type": "email", "path": "/x", "start": 0, "end": 5, "key": true}])
}

test_stream_event_ignores_body_findings if {
	# A stream event is judged on its own findings, never on a body's.
	response.decision == {"allow": true, "reasons": []} with input as object.union(stream_event([]), {"pii": "weird"})
}

test_opaque_model_output_refused if {
	response.decision == {"allow": false, "status": 502, "reasons": ["response_not_inspectable"]} with input as object.union(stream_start, {"body_format": "opaque"})
}

test_opaque_elsewhere_allowed if {
	opaque_models := object.union(stream_start, {"body_format": "opaque", "request": {"method": "GET", "path": "/v1/models", "parsed_path": ["v1", "models"], "request_id": "r-2"}})
	response.decision == {"allow": true, "reasons": []} with input as opaque_models
}

test_no_body_allowed_on_model_route if {
	response.decision == {"allow": true, "reasons": []} with input as object.union(stream_start, {"body_format": "none"})
}

test_single_finding_redacted if {
	response.decision == {"allow": true, "reasons": [], "redact": [
		{"path": "/choices/0/message/content", "start": 0, "end": 11, "type": "email"},
	]} with input as with_pii([{"type": "email", "path": "/choices/0/message/content", "start": 0, "end": 11}])
}
