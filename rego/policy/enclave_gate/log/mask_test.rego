package enclave_gate.log_test

import data.enclave_gate.log

test_jwt_email_and_name_are_masked if {
	log.mask == {"/input/peer/jwt/email", "/input/peer/jwt/name"} with input as {"input": {"peer": {"jwt": {"sub": "u1", "email": "a@bank-a.example", "name": "Ann"}}}}
}

test_certificate_subject_is_masked if {
	log.mask == {"/input/peer/certificate/subject"} with input as {"input": {"peer": {"certificate": {"subject": "O=Bank A,CN=Ann", "fingerprint": "ab"}}}}
}

test_nothing_to_mask_without_identity if {
	count(log.mask) == 0 with input as {"input": {"method": "GET", "path": "/v1/models", "peer": {"address": "127.0.0.1"}}}
}

test_an_empty_value_is_still_masked if {
	log.mask == {"/input/peer/jwt/email"} with input as {"input": {"peer": {"jwt": {"email": ""}}}}
}
