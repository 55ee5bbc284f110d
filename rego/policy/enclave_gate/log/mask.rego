# METADATA
# title: Decision-log mask
# description: |
#   What of a logged request input the signed decision log erases, in the
#   manner of OPA's data.system.log.mask. Entrypoint: enclave_gate/log/mask.
#   Input: the decision-log event ({input, result, path, labels, ...}; see
#   docs/audit.md), already without the body, the query and credential
#   headers, which the proxy always erases. Each member of the set is a JSON
#   pointer under /input/; the proxy erases it and lists it in the event's
#   "erased". A rule that fails erases the whole input.
package enclave_gate.log

# Identity details that name a person rather than a party: a caller is
# still known in the log by its party, subject id, SANs and fingerprint.
mask contains "/input/peer/jwt/email" if _ = input.input.peer.jwt.email

mask contains "/input/peer/jwt/name" if _ = input.input.peer.jwt.name

# A client certificate's subject DN can hold a person's name (CN) or email.
mask contains "/input/peer/certificate/subject" if _ = input.input.peer.certificate.subject
