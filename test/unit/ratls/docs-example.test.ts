/**
 * docs/ratls.md annotates the bytes of a served certificate's evidence
 * extension. Its sizes must be those of a certificate that issueCertificate
 * really produces (simulated evidence, the default P-384 key, a policy hash),
 * read back with an independent X.509 parser.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSimulatedProvider } from '../../../src/evidence/simulated.js';
import { issueCertificate } from '../../../src/ratls/issue.js';
import { PACKAGE_ROOT } from '../../../src/util/package-root.js';
import { decodeTaggedEvidence, OID_TCG_DICE_TAGGED_EVIDENCE } from '../../../src/wire/extension.js';
import { findExtension } from '../../helpers/x509-extensions.js';
import { TEST_POLICY_HASH } from '../verify/front/cert-builder.js';

/** The CBOR byte-string header for a length the example uses (one length byte). */
const bstrHeader = (length: number): string => `58 ${length.toString(16).padStart(2, '0')}`;

describe('docs/ratls.md annotated example', () => {
  it('names the sizes a served simulated certificate has', async () => {
    const issued = await issueCertificate({
      provider: createSimulatedProvider(),
      policyHash: TEST_POLICY_HASH,
      keyAlgorithm: 'P-384',
      validitySeconds: 3600,
      subjectAltNames: ['localhost'],
      commonName: 'docs example',
    });
    const value = findExtension(issued.certDer, OID_TCG_DICE_TAGGED_EVIDENCE).value;
    const tagged = decodeTaggedEvidence(value);
    const doc = readFileSync(join(PACKAGE_ROOT, 'docs', 'ratls.md'), 'utf8');
    expect(doc).toContain(`extnValue of ${OID_TCG_DICE_TAGGED_EVIDENCE} (${value.length} bytes)`);
    expect(doc).toMatch(new RegExp(`${bstrHeader(tagged.evidence.length)} <${tagged.evidence.length} bytes>\\s+evidence`));
    expect(doc).toMatch(new RegExp(`${bstrHeader(tagged.claims.length)} <${tagged.claims.length} bytes>\\s+claims buffer`));
  });
});
