module enclave-gate.example/pinned-client

go 1.22
