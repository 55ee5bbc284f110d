"""The Python recipe of docs/clients.md, run for real by test/integration/clients.test.ts.

1. Pre-flight: run `enclave-gate verify URL --save-cert gate.pem` (plus the
   caller's flags, e.g. --reference-values). Only when it exits 0 is the
   certificate written, and only then do we connect.
2. Pin: an ssl.SSLContext that trusts exactly that certificate, used by httpx
   and by the OpenAI SDK (openai.DefaultHttpxClient(verify=context)).

    python pinned_client.py BASE_URL WORKDIR OTHER_PEM -- VERIFY_COMMAND...

Prints one JSON object: what each step saw. The test decides what is right.
"""

import json
import os
import ssl
import subprocess
import sys

import httpx
import openai


def verified_context(base_url: str, cert_path: str, verify_command: list[str]) -> ssl.SSLContext:
    """Runs the verifier; returns an SSL context pinned to the certificate it verified."""
    result = subprocess.run([*verify_command, base_url, "--save-cert", cert_path], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"enclave-gate verify refused the server (exit {result.returncode}):\n{result.stdout}")
    context = ssl.create_default_context(cafile=cert_path)
    # Python 3.13 sets VERIFY_X509_STRICT by default; a self-signed leaf that
    # is its own trust anchor is what RA-TLS uses, so relax only that flag.
    context.verify_flags &= ~getattr(ssl, "VERIFY_X509_STRICT", 0)
    return context


def main() -> None:
    base_url, workdir, other_pem = sys.argv[1], sys.argv[2], sys.argv[3]
    verify_command = sys.argv[sys.argv.index("--") + 1 :]
    report: dict = {}

    # A server that does not verify: no certificate is written, nothing is sent.
    refused_path = os.path.join(workdir, "refused.pem")
    try:
        verified_context(base_url, refused_path, [c for c in verify_command if c != "--allow-simulated"])
        report["refused"] = {"error": None}
    except RuntimeError as error:
        report["refused"] = {"error": str(error).splitlines()[0], "cert_written": os.path.exists(refused_path)}

    context = verified_context(base_url, os.path.join(workdir, "gate.pem"), verify_command)

    with httpx.Client(verify=context, base_url=base_url) as client:
        answer = client.get("/v1/models")
        report["httpx"] = {"status": answer.status_code, "body": answer.json()}

    sdk = openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, http_client=openai.DefaultHttpxClient(verify=context))
    report["openai"] = {"models": [m.id for m in sdk.models.list()]}

    # Pinned to another certificate, the same request fails the handshake.
    wrong = ssl.create_default_context(cafile=other_pem)
    try:
        with httpx.Client(verify=wrong, base_url=base_url) as client:
            client.get("/v1/models")
        report["wrong_pin"] = {"error": None}
    except httpx.ConnectError as error:
        report["wrong_pin"] = {"error": str(error)}

    print(json.dumps(report))


if __name__ == "__main__":
    main()
