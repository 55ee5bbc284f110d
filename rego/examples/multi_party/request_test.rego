package enclave_gate.request_test

import data.enclave_gate.request

parties := {
	"bank-a": {
		"certificate_organizations": ["Bank A"],
		"jwt_parties": ["bank-a"],
		"api_keys": [],
		"routes": {"/inference": ["POST"], "/v1/models": ["GET"]},
		"models": ["fraud-1"],
		"pii_allowed": {"/inference": ["iban"]},
		"limits": {"requests_per_minute": 600, "burst": 50},
	},
	"bank-b": {
		"certificate_organizations": ["Bank B"],
		"jwt_parties": ["bank-b"],
		"api_keys": ["bank-b-batch"],
		"routes": {"/inference": ["POST"]},
		"models": ["fraud-1"],
		"pii_allowed": {},
	},
}

post(peer, body, pii) := {
	"method": "POST",
	"path": "/inference",
	"headers": {"content-type": "application/json"},
	"body": body,
	"body_size": 10,
	"pii": pii,
	"peer": peer,
}

bank_a_cert := {"certificate": {"organization": "Bank A"}}

bank_b_key := {"api_key": {"id": "bank-b-batch"}}

iban := {"type": "iban", "path": "/tx/iban", "start": 0, "end": 22}

test_bank_a_allowed_with_its_limits if {
	d := request.decision with input as post(bank_a_cert, {"model": "fraud-1"}, []) with data.multi_party.parties as parties
	d.allow
	d.headers == {"x-enclave-party": "bank-a"}
	d.rate_limit == {"key": "bank-a", "party": "bank-a", "requests_per_minute": 600, "burst": 50}
}

test_jwt_claim_names_the_party if {
	d := request.decision with input as post({"jwt": {"party": "bank-b"}}, {}, []) with data.multi_party.parties as parties
	d.allow
	d.headers["x-enclave-party"] == "bank-b"
	not d.rate_limit
}

test_bank_a_may_send_iban_to_inference if {
	d := request.decision with input as post(bank_a_cert, {}, [iban]) with data.multi_party.parties as parties
	d.allow
}

test_bank_b_may_not_send_iban if {
	d := request.decision with input as post(bank_b_key, {}, [iban]) with data.multi_party.parties as parties
	d == {"allow": false, "reasons": ["pii_detected:iban:/tx/iban"]}
}

test_route_of_another_party_denied if {
	inp := object.union(post(bank_b_key, {}, []), {"method": "GET", "path": "/v1/models"})
	d := request.decision with input as inp with data.multi_party.parties as parties
	d == {"allow": false, "reasons": ["route_not_allowed"]}
}

test_unknown_caller_denied if {
	d := request.decision with input as post({}, {}, []) with data.multi_party.parties as parties
	d == {"allow": false, "reasons": ["party_unknown"]}
	d2 := request.decision with input as post({"certificate": {"organization": "Bank C"}}, {}, []) with data.multi_party.parties as parties
	d2.reasons == ["party_unknown"]
}

test_two_parties_in_one_request_denied if {
	peer := object.union(bank_a_cert, bank_b_key)
	d := request.decision with input as post(peer, {}, []) with data.multi_party.parties as parties
	d == {"allow": false, "reasons": ["party_ambiguous"]}
}

test_other_model_denied if {
	d := request.decision with input as post(bank_a_cert, {"model": "gpt-x"}, []) with data.multi_party.parties as parties
	d.reasons == ["model_not_allowed"]
}

test_non_json_post_denied if {
	inp := object.union(post(bank_a_cert, {}, []), {"headers": {"content-type": "text/plain"}})
	d := request.decision with input as inp with data.multi_party.parties as parties
	d == {"allow": false, "status": 415, "reasons": ["content_type_not_json"]}
}

test_uninspected_body_denied if {
	inp := object.remove(post(bank_a_cert, {}, []), ["body", "pii"])
	d := request.decision with input as inp with data.multi_party.parties as parties
	d.reasons == ["body_not_inspected"]
}

test_without_parties_nobody_is_allowed if {
	d := request.decision with input as post(bank_a_cert, {}, []) with data.multi_party.parties as {}
	not d.allow
}
