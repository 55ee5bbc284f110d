package enclave_gate.lib_test

import data.enclave_gate.lib

test_allow_decision_has_no_reasons if {
	lib.allow_decision == {"allow": true, "reasons": []}
}

test_deny_sorts_reasons if {
	lib.deny({"b", "a"}) == {"allow": false, "reasons": ["a", "b"]}
}

test_deny_with_status if {
	lib.deny_with_status(415, ["x"]) == {"allow": false, "status": 415, "reasons": ["x"]}
}

test_json_media_types_accepted if {
	every value in [
		"application/json",
		"application/json; charset=utf-8",
		"Application/JSON;charset=UTF-8",
		" application/json ",
	] {
		lib.is_json_media_type(value)
	}
}

test_other_media_types_rejected if {
	every value in [
		"",
		"text/plain",
		"application/jsonx",
		"application/problem+json",
		"application/x-www-form-urlencoded",
		"multipart/form-data; boundary=x",
	] {
		not lib.is_json_media_type(value)
	}
}

test_non_string_media_type_rejected if {
	not lib.is_json_media_type(["application/json"])
}

test_pii_reasons_carry_type_and_pointer_only if {
	findings := [
		{"type": "email", "path": "/messages/0/content", "start": 3, "end": 14},
		{"type": "payment_card", "path": "", "start": 0, "end": 16},
	]
	lib.pii_reasons("p", findings) == {"p:email:/messages/0/content", "p:payment_card:"}
}

test_pii_reasons_empty if {
	lib.pii_reasons("p", []) == set()
}
