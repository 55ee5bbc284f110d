"""What the real OpenAI, Anthropic and Ollama Python clients raise for enclave-gate's errors.

Run by test/integration/sdk-errors.test.ts against a live gateway over real
TLS: the SSL context trusts exactly the gateway's exported certificate. For
each case it makes the call an application would make and prints, as one JSON
object, the exception the SDK raised: its class, its message, the code it
exposes, and the parsed body. The test decides what is right; this script
only reports.

    python sdk_errors.py BASE_URL CA_FILE
"""

import json
import ssl
import sys

import anthropic
import ollama
import openai

PII_PROMPT = "please mail alice@example.com"
CLEAN_PROMPT = "say hello"


def describe(error: BaseException) -> dict:
    return {
        "exception": type(error).__name__,
        "message": str(error),
        "status": getattr(error, "status_code", None),
        # openai: APIError.code (error.code); anthropic: error.details.error_code
        "code": getattr(error, "code", None) or getattr(error, "error_code", None),
        "body": getattr(error, "body", None),
    }


def attempt(call) -> dict:
    try:
        result = call()
        return {"exception": None, "result": repr(result)[:200]}
    except (openai.APIError, anthropic.APIError) as error:
        return describe(error)
    except ollama.ResponseError as error:
        return {"exception": type(error).__name__, "message": str(error), "status": error.status_code, "code": None, "body": error.error}


def main() -> None:
    base_url, ca_file = sys.argv[1], sys.argv[2]
    context = ssl.create_default_context(cafile=ca_file)

    oa = openai.OpenAI(
        base_url=f"{base_url}/v1",
        api_key="unused",
        max_retries=0,
        http_client=openai.DefaultHttpxClient(verify=context),
    )
    an = anthropic.Anthropic(
        base_url=base_url,
        api_key="unused",
        max_retries=0,
        http_client=anthropic.DefaultHttpxClient(verify=context),
    )

    def oa_chat(prompt: str, stream: bool):
        def call():
            answer = oa.chat.completions.create(model="m", messages=[{"role": "user", "content": prompt}], stream=stream)
            return list(answer) if stream else answer

        return call

    def an_messages(prompt: str, stream: bool):
        def call():
            answer = an.messages.create(
                model="m", max_tokens=16, messages=[{"role": "user", "content": prompt}], stream=stream
            )
            return list(answer) if stream else answer

        return call

    ol = ollama.Client(host=base_url, verify=context)

    def ol_chat(prompt: str, stream: bool):
        def call():
            answer = ol.chat(model="m", messages=[{"role": "user", "content": prompt}], stream=stream)
            return list(answer) if stream else answer

        return call

    # The SDKs retry 5xx twice by default; count what reaches the model server.
    oa_retrying = openai.OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=2, http_client=openai.DefaultHttpxClient(verify=context))

    report = {
        "retry": {
            "unparsable_answer": attempt(lambda: oa_retrying.completions.create(model="m", prompt=CLEAN_PROMPT)),
        },
        "openai": {
            "denied": attempt(oa_chat(PII_PROMPT, False)),
            "withheld": attempt(oa_chat(CLEAN_PROMPT, False)),
            "stream": attempt(oa_chat(CLEAN_PROMPT, True)),
        },
        "anthropic": {
            "denied": attempt(an_messages(PII_PROMPT, False)),
            "withheld": attempt(an_messages(CLEAN_PROMPT, False)),
            "stream": attempt(an_messages(CLEAN_PROMPT, True)),
        },
        "ollama": {
            "denied": attempt(ol_chat(PII_PROMPT, False)),
            "withheld": attempt(ol_chat(CLEAN_PROMPT, False)),
            "stream": attempt(ol_chat(CLEAN_PROMPT, True)),
        },
    }
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
