# METADATA
# title: "Per-party decision-log mask (example: banks sharing a fraud model)"
# description: |
#   Optional, next to request.rego: each party may name more of its requests'
#   input that the signed decision log must not keep (log_mask in its
#   data.multi_party.parties entry: JSON pointers under /input/). The party is
#   found as the request policy found it, from the logged input. A request
#   attributed to no party, or to several, gets no extra masking here; the
#   proxy's built-in masking (body, query, credentials) always applies. Add
#   rego/policy/enclave_gate/log/mask.rego too to keep the default masking.
package enclave_gate.log

import data.enclave_gate.request

mask contains pointer if {
	party := request.party with input as input.input
	some pointer in party.log_mask
}
