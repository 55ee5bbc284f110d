"""Runs Presidio's predefined pattern recognizers on a PII quality corpus.

Reads a corpus written by bench/pii-quality/generate.ts (default
.scratch/pii-corpus.json) and writes one list of {type, start, end, score}
per sample (default .scratch/presidio-findings.json), with Presidio entity
names mapped to enclave-gate types.

No spaCy model is installable from PyPI, so there is no trained NLP engine
and no NER. The recognizers run directly, and Presidio's own context enhancer
(LemmaContextAwareEnhancer, +0.35 for a context word) runs on tokens from a
blank spaCy English tokenizer, with the lower-cased token as the lemma.

The context step only fires when NlpArtifacts holds *keywords*, which
NlpArtifacts derives from the lemmas through its NLP engine (dropping stop
words and punctuation); with no engine it sets none, and every context word
is ignored. BlankEnglishEngine below answers the two questions that step asks
(is_stopword, is_punct) from the blank tokenizer's vocabulary, as Presidio's
spaCy engine does from a model's, so Presidio gets its context. Usage:

    bash bench/pii-quality/presidio.sh   # installs Presidio in .scratch/venv and runs this
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


class BlankEnglishEngine:
    """The part of Presidio's NlpEngine that NlpArtifacts uses to pick context keywords."""

    def __init__(self, nlp) -> None:
        self._vocab = nlp.vocab

    def is_stopword(self, word: str, language: str) -> bool:
        return self._vocab[word].is_stop

    def is_punct(self, word: str, language: str) -> bool:
        return self._vocab[word].is_punct


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
    engine = BlankEnglishEngine(tokenizer)
    enhancer = LemmaContextAwareEnhancer()
    started = time.perf_counter()
    artifacts_keywords_seen = []
    out = []
    for sample in samples:
        text = sample["text"]
        doc = tokenizer(text)
        artifacts = NlpArtifacts(
            entities=[],
            tokens=doc,
            tokens_indices=[t.idx for t in doc],
            lemmas=[t.lower_ for t in doc],
            nlp_engine=engine,
            language="en",
        )
        artifacts_keywords_seen.append(bool(artifacts.keywords))
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
    if not any(artifacts_keywords_seen):
        raise SystemExit("presidio_eval: no context keywords were extracted; the context step would never fire")
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"elapsed_seconds": elapsed, "findings": out}, f)
    print(f"presidio: {len(samples)} samples in {elapsed:.1f} s -> {out_path}")


if __name__ == "__main__":
    main()
