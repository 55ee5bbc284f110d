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
	"body": {"choices": [{"message": {"role": "assistant", "content": "hi"}}]},
}

# Scanner mocks (see request_test.rego for why they are functions).
no_pii(_) := []

not_an_array(_) := "weird"

test_clean_response_allowed if {
	response.decision == {"allow": true, "reasons": []} with input as completion
		with enclave_gate.pii.scan as no_pii
}

test_response_without_body_allowed if {
	response.decision == {"allow": true, "reasons": []} with input as object.remove(completion, ["body"])
}

test_pii_in_response_denied if {
	response.decision == {"allow": false, "reasons": [
		"pii_in_response:email:/choices/0/message/content",
		"pii_in_response:payment_card:/choices/0/message/content",
	]} with input as completion
		with enclave_gate.pii.scan as scan_completion
}

scan_completion(value) := [
	{"type": "payment_card", "path": "/choices/0/message/content", "start": 20, "end": 36},
	{"type": "email", "path": "/choices/0/message/content", "start": 0, "end": 11},
] if {
	value == completion.body
}

test_default_deny_when_scanner_returns_garbage if {
	# Neither allowed nor explained: the default must deny, not stay undefined.
	response.decision == {"allow": false, "reasons": ["default_deny"]} with input as completion
		with enclave_gate.pii.scan as not_an_array
}
