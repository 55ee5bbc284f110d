"""Runs Presidio's predefined pattern recognizers on the PII quality corpus.

Reads .scratch/pii-corpus.json (bench/pii-quality/generate.ts) and writes
.scratch/presidio-findings.json: one list of {type, start, end, score} per
sample, with Presidio entity names mapped to enclave-gate types.

No spaCy model is installable from PyPI, so there is no NLP engine. The
recognizers run directly, and Presidio's own context enhancer runs on
tokens from a blank spaCy English tokenizer with the lower-cased token as the
lemma. That keeps Presidio's +0.35 context rule, which its pattern
recognizers depend on, without a model. Usage:

    .scratch/venv/bin/python bench/pii-quality/presidio_eval.py
"""

import json
import logging
import sys
import time

import spacy
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import (
    AbaRoutingRecognizer,
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    NhsRecognizer,
    PhoneRecognizer,
    UsSsnRecognizer,
)

TYPES = {
    "CREDIT_CARD": "payment_card",
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "US_SSN": "us_ssn",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ip_address",
    "CRYPTO": "crypto_wallet",
    "ABA_ROUTING_NUMBER": "aba_routing",
    "UK_NHS": "uk_nhs",
}


def main() -> None:
    # tldextract (used by the e-mail recognizer) tries to download the public
    # suffix list and logs a traceback offline before using its bundled copy.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    corpus_path = sys.argv[1] if len(sys.argv) > 1 else ".scratch/pii-corpus.json"
    out_path = sys.argv[2] if len(sys.argv) > 2 else ".scratch/presidio-findings.json"
    with open(corpus_path, encoding="utf-8") as f:
        samples = json.load(f)["samples"]
    recognizers = [
        CreditCardRecognizer(),
        EmailRecognizer(),
        # Presidio's default phone regions plus the ones the corpus uses.
        PhoneRecognizer(supported_regions=("US", "UK", "DE", "FR", "IN", "JP", "AU", "IL", "CA", "BR")),
        UsSsnRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        CryptoRecognizer(),
        AbaRoutingRecognizer(),
        NhsRecognizer(),
    ]
    entities = list(TYPES)
    tokenizer = spacy.blank("en")
    enhancer = LemmaContextAwareEnhancer()
    started = time.perf_counter()
    out = []
    for sample in samples:
        text = sample["text"]
        doc = tokenizer(text)
        artifacts = NlpArtifacts(
            entities=[],
            tokens=doc,
            tokens_indices=[t.idx for t in doc],
            lemmas=[t.lower_ for t in doc],
            nlp_engine=None,
            language="en",
        )
        results = []
        for recognizer in recognizers:
            results.extend(recognizer.analyze(text, entities, artifacts) or [])
        results = enhancer.enhance_using_context(text, results, artifacts, recognizers)
        out.append(
            [
                {"type": TYPES[r.entity_type], "start": r.start, "end": r.end, "score": r.score}
                for r in results
                if r.entity_type in TYPES
            ]
        )
    elapsed = time.perf_counter() - started
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"elapsed_seconds": elapsed, "findings": out}, f)
    print(f"presidio: {len(samples)} samples in {elapsed:.1f} s -> {out_path}")


if __name__ == "__main__":
    main()
