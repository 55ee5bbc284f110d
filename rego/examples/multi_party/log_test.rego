package enclave_gate.log_test

import data.enclave_gate.log

parties := {
	"bank-a": {"jwt_parties": ["bank-a"], "log_mask": ["/input/peer/jwt/sub", "/input/headers/x-analyst"]},
	"bank-b": {"api_keys": ["bank-b-batch"]},
}

event(peer) := {"input": {"method": "POST", "path": "/inference", "peer": peer}, "result": {"allow": true, "reasons": []}}

test_a_party_masks_what_it_lists if {
	log.mask == {"/input/peer/jwt/sub", "/input/headers/x-analyst"} with input as event({"jwt": {"party": "bank-a", "sub": "analyst-17"}})
		with data.multi_party.parties as parties
}

test_a_party_without_a_list_masks_nothing_more if {
	count(log.mask) == 0 with input as event({"api_key": {"id": "bank-b-batch"}})
		with data.multi_party.parties as parties
}

test_no_party_no_extra_mask if {
	count(log.mask) == 0 with input as event({"address": "192.0.2.1"})
		with data.multi_party.parties as parties
}

test_an_ambiguous_caller_gets_no_party_mask if {
	count(log.mask) == 0 with input as event({"jwt": {"party": "bank-a"}, "api_key": {"id": "bank-b-batch"}})
		with data.multi_party.parties as parties
}
