# METADATA
# title: Mutual RA-TLS caller check (opt-in example)
# description: |
#   Not part of the default policy. Allows a caller only when its client
#   RA-TLS certificate verified (tls.clientAttestation.mode optional or
#   required) and its TEE measurement is on an allowlist. Copy this file next
#   to the request policy and add `mutual.caller_allowed` to the conditions
#   of the allowing decision (docs/mutual-ratls.md shows how).
#
#   The allowlist is bundle data: data.mutual_ratls.allowed_callers, an array
#   of lower-case hex measurements (SNP MEASUREMENT, TDX MRTD, SGX MRENCLAVE,
#   Nitro PCR0). Without it nobody is allowed (fail closed).
package enclave_gate.examples.mutual_ratls

# Reasons this package emits:
#
#   caller_not_attested               the client presented no certificate
#   caller_attestation_failed:<code>  its certificate did not verify; <code>
#                                     is the verifier's, e.g. EG_VERIFY_SIMULATED
#   caller_measurement_not_allowed    verified, but the measurement is not in
#                                     data.mutual_ratls.allowed_callers

# The measurements of the callers that may use the model.
allowed_callers contains lower(m) if {
	some m in data.mutual_ratls.allowed_callers
	is_string(m)
}

# caller_allowed holds only when every check holds positively.
caller_allowed if {
	input.peer.attestation.verified == true
	input.peer.attestation.measurement in allowed_callers
}

caller_reasons contains "caller_not_attested" if {
	not input.peer.attestation
}

caller_reasons contains concat(":", ["caller_attestation_failed", code]) if {
	input.peer.attestation.verified == false
	code := object.get(input.peer.attestation, "code", "unknown")
}

caller_reasons contains "caller_measurement_not_allowed" if {
	input.peer.attestation.verified == true
	not caller_allowed
}
