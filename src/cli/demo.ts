/**
 * `enclave-gate demo`: the Quick start. Starts the bundled demo model server
 * on 127.0.0.1:8000 and the proxy in front of it with simulated attestation
 * and the default policy, then prints how to verify and what to try.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { loadConfig } from '../config/index.js';
import { startModelServer } from '../demo/model-server.js';
import { createLogger } from '../observability/logger.js';
import { startGateway } from '../proxy/gateway.js';
import { parseFlags } from './args.js';
import { closeOnSignals } from './serve.js';

const DEMO_USAGE = `Usage: enclave-gate demo [--model-port 8000] [--listen 127.0.0.1:8443] [--admin 127.0.0.1:9464]

Runs the demo model server and enclave-gate in front of it (simulated attestation,
default policy). Stop with Ctrl-C.
`;

/** Base64 SHA-256 of the certificate's SubjectPublicKeyInfo: curl's --pinnedpubkey form. */
function pinOf(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Runs the demo until a signal stops it. */
export async function demo(argv: string[]): Promise<void> {
  const { values } = parseFlags(argv, {
    'model-port': { type: 'string', default: '8000' },
    listen: { type: 'string', default: '127.0.0.1:8443' },
    admin: { type: 'string', default: '127.0.0.1:9464' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(DEMO_USAGE);
    return;
  }
  const model = await startModelServer({ host: '127.0.0.1', port: Number(values['model-port']) });
  const config = loadConfig({
    env: process.env,
    flags: { listen: values.listen, admin: values.admin, upstream: model.url, attestation: 'simulated' },
  });
  const gateway = await startGateway({ config, logger: createLogger(config.log.level) });
  closeOnSignals(async () => {
    await gateway.close();
    await model.close();
  });

  const pin = pinOf(gateway.certificate.certPem);
  const curl = `curl -sk --pinnedpubkey 'sha256//${pin}'`;
  const json = `-H 'content-type: application/json'`;
  const u = gateway.url;
  process.stdout.write(`
enclave-gate demo is running
  proxy (RA-TLS)   ${u}
  model server     ${model.url}   (reach it only through the proxy)
  admin            ${gateway.adminUrl}/healthz  /readyz  /metrics
  policy digest    ${gateway.policy.digest.alg}:${gateway.policy.digest.hex}
  attestation      SIMULATED (development only; verifiers reject it unless told --allow-simulated)

The certificate is self-signed and carries its attestation evidence. Verify it
first (the evidence, the key binding, the policy digest, and fresh evidence bound
to this very TLS session):
  npx enclave-gate verify ${u} --allow-simulated --fresh

The pin below is the certificate's key, so curl talks to exactly this proxy instance.

Try:
  ${curl} ${u}/v1/models
  ${curl} ${json} -d '{"model":"enclave-demo-1","messages":[{"role":"user","content":"What can you do?"}]}' ${u}/v1/chat/completions
  ${curl} -N ${json} -d '{"model":"enclave-demo-1","stream":true,"messages":[{"role":"user","content":"Say hello"}]}' ${u}/v1/chat/completions
  ${curl} ${json} -d '{"transaction":{"amount":950,"hour":3,"merchant_risk":0.9,"distance_km":800,"card_present":false,"txn_count_24h":6,"account_age_days":12,"foreign":true}}' ${u}/inference

Denied by the default policy (403 problem+json with a reason):
  ${curl} ${u}/raw_customer_data
  ${curl} ${json} -d '{"messages":[{"role":"user","content":"mail alice@example.com"}]}' ${u}/v1/chat/completions
  ${curl} ${json} -d '{"messages":[{"role":"user","content":"card 4111 1111 1111 1111"}]}' ${u}/v1/chat/completions

Stop with Ctrl-C.
`);
}
