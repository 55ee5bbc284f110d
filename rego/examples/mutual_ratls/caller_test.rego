package enclave_gate.examples.mutual_ratls_test

import data.enclave_gate.examples.mutual_ratls as mutual

good := "aa00"

callers := {"mutual_ratls": {"allowed_callers": ["AA00", "bb11"]}}

verified(measurement) := {"peer": {"attestation": {
	"verified": true,
	"platform": "sev-snp",
	"measurement": measurement,
	"report_data": "00",
	"debug": false,
	"tcb": {},
	"fingerprint": "ff",
}}}

test_allows_listed_measurement if {
	mutual.caller_allowed with input as verified(good) with data.mutual_ratls as callers.mutual_ratls
	count(mutual.caller_reasons) == 0 with input as verified(good) with data.mutual_ratls as callers.mutual_ratls
}

test_denies_other_measurement if {
	not mutual.caller_allowed with input as verified("cc22") with data.mutual_ratls as callers.mutual_ratls
	mutual.caller_reasons == {"caller_measurement_not_allowed"} with input as verified("cc22") with data.mutual_ratls as callers.mutual_ratls
}

test_denies_without_allowlist if {
	not mutual.caller_allowed with input as verified(good)
	mutual.caller_reasons == {"caller_measurement_not_allowed"} with input as verified(good)
}

test_denies_without_certificate if {
	inp := {"peer": {"address": "127.0.0.1"}}
	not mutual.caller_allowed with input as inp with data.mutual_ratls as callers.mutual_ratls
	mutual.caller_reasons == {"caller_not_attested"} with input as inp with data.mutual_ratls as callers.mutual_ratls
}

test_denies_failed_verification if {
	inp := {"peer": {"attestation": {
		"verified": false, "platform": "simulated", "measurement": null, "report_data": null,
		"debug": null, "tcb": null, "code": "EG_VERIFY_SIMULATED", "fingerprint": "ff",
	}}}
	not mutual.caller_allowed with input as inp with data.mutual_ratls as callers.mutual_ratls
	mutual.caller_reasons == {"caller_attestation_failed:EG_VERIFY_SIMULATED"} with input as inp with data.mutual_ratls as callers.mutual_ratls
}

test_denies_verified_false_even_with_listed_measurement if {
	inp := {"peer": {"attestation": {"verified": false, "measurement": good, "fingerprint": "ff"}}}
	not mutual.caller_allowed with input as inp with data.mutual_ratls as callers.mutual_ratls
	mutual.caller_reasons == {"caller_attestation_failed:unknown"} with input as inp with data.mutual_ratls as callers.mutual_ratls
}
