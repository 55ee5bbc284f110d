/**
 * A real software TPM (Debian swtpm) set up like an Azure confidential VM's
 * vTPM, for the azure-vtpm provider's tests:
 *
 *  - swtpm on loopback TCP, provisioned with tpm2-tools (a second,
 *    independent TPM stack): an RSA-2048 RSASSA-SHA256 restricted signing key
 *    persisted at 0x81000003 (the AK) and NV index 0x01400001 holding a
 *    synthetic HCL report whose variable data publishes that AK as HCLAkPub;
 *  - a "paravisor" in front of it: a TCP proxy that passes every command
 *    through and, like Azure's HCL, answers a write to NV 0x01400002 by
 *    rewriting NV 0x01400001 with a fresh HCL report carrying the written
 *    bytes as user-data (after `refreshDelayMs`, so the provider must wait).
 *
 * The hardware report inside is the real Genoa report from the vectors with
 * its report_data set to SHA-256 of the synthetic variable data, so it no
 * longer carries AMD's signature: everything except that signature can be
 * verified, and a verifier must stop exactly there.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TPM_CC, TPM_RH_OWNER, marshalCommand } from '../../src/evidence/tpm2.js';
import { AZURE_VTPM, HCL_LAYOUT } from '../../src/wire/azure-hcl.js';
import { vector } from '../helpers/vectors.js';

const run = promisify(execFile);

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Two free consecutive loopback ports: tpm2-tools' swtpm TCTI expects the
 * control channel on the data port + 1. (The small race with another process
 * taking them is acceptable in tests.)
 */
async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    if ((await portIsFree(port)) && (await portIsFree(port + 1))) return port;
  }
  throw new Error('no two consecutive free loopback ports');
}

async function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`swtpm did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A synthetic HCL report: the layout of the real ones (wire/azure-hcl.ts),
 * the Genoa vector's header and SNP report, a variable data JSON holding
 * `akPem` as HCLAkPub and `userData` (64 bytes) as user-data, and
 * report_data[0:32] = SHA-256(variable data).
 */
export function syntheticHclReport(akPem: string, userData: Uint8Array, kind: 'snp' | 'tdx' = 'snp'): Uint8Array {
  const jwk = createPublicKey(akPem).export({ format: 'jwk' });
  const variable = Buffer.from(
    JSON.stringify({
      keys: [{ kid: 'HCLAkPub', key_ops: ['sign'], kty: 'RSA', e: jwk.e, n: jwk.n }],
      'vm-configuration': { 'console-enabled': false, 'secure-boot': true, 'tpm-enabled': true, vmUniqueId: 'enclave-gate-swtpm-test' },
      // Azure writes it upper-case; the provider and verifier must not care.
      'user-data': Buffer.from(userData).toString('hex').toUpperCase(),
    }),
  );
  const real = vector(kind === 'snp' ? 'sev-snp/azure-genoa-hcl-report.bin' : 'tdx/azure-tdx-hcl-report.bin');
  const out = Buffer.alloc(HCL_LAYOUT.variableDataOffset + variable.length);
  real.copy(out, 0, 0, HCL_LAYOUT.requestDataOffset);
  // report_data sits at 0x50 of an SNP report and at 128 of a TDREPORT (inside its REPORTMACSTRUCT).
  const report = out.subarray(HCL_LAYOUT.hardwareReportOffset);
  const reportDataAt = kind === 'snp' ? 0x50 : 128;
  report.fill(0, reportDataAt, reportDataAt + 64);
  createHash('sha256').update(variable).digest().copy(report, reportDataAt);
  const req = HCL_LAYOUT.requestDataOffset;
  out.writeUInt32LE(HCL_LAYOUT.requestDataBytes + variable.length, req);
  out.writeUInt32LE(1, req + 4);
  out.writeUInt32LE(kind === 'snp' ? 2 : 4, req + 8);
  out.writeUInt32LE(1, req + 12); // SHA-256
  out.writeUInt32LE(variable.length, req + 16);
  variable.copy(out, HCL_LAYOUT.variableDataOffset);
  return new Uint8Array(out);
}

export interface SwtpmOptions {
  /** Provision the Azure handles (AK, HCL index); false leaves a plain TPM. */
  readonly provision?: boolean;
  /** SEV-SNP (default) or TDX HCL reports. */
  readonly kind?: 'snp' | 'tdx';
  /** Delay of the paravisor's HCL refresh after a user-data write; undefined disables the paravisor. */
  readonly refreshDelayMs?: number;
}

export interface Swtpm {
  /** tcp:// address of the paravisor proxy: what the provider is given. */
  readonly device: string;
  /** TPM2TOOLS_TCTI for tpm2-tools against the same swtpm. */
  readonly tcti: string;
  readonly akPem: string;
  /** User-data writes the paravisor saw. */
  readonly userDataWrites: Uint8Array[];
  /** Runs a tpm2-tools command against the swtpm (stdout). */
  tool(args: readonly string[]): Promise<string>;
  stop(): Promise<void>;
}

/** One whole TPM message from a stream (size in bytes 2..6). */
function messages(socket: Socket, onMessage: (m: Buffer) => void): void {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 10 && buffered.length >= buffered.readUInt32BE(2)) {
      const size = buffered.readUInt32BE(2);
      onMessage(buffered.subarray(0, size));
      buffered = buffered.subarray(size);
    }
  });
}

/** Starts swtpm, provisions it with tpm2-tools and puts the paravisor proxy in front. */
export async function startSwtpm(options: SwtpmOptions = {}): Promise<Swtpm> {
  const dir = await mkdtemp(join(tmpdir(), 'eg-swtpm-'));
  const port = await freePortPair();
  const ctrl = port + 1;
  const child: ChildProcess = spawn(
    'swtpm',
    ['socket', '--tpm2', '--tpmstate', `dir=${dir}`, '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`, '--ctrl', `type=tcp,port=${ctrl},bindaddr=127.0.0.1`, '--flags', 'not-need-init,startup-clear'],
    { stdio: 'ignore' },
  );
  const tcti = `swtpm:host=127.0.0.1,port=${port}`;
  const tool = async (args: readonly string[]): Promise<string> => {
    const [cmd, ...rest] = args;
    const { stdout } = await run(cmd!, rest, { env: { ...process.env, TPM2TOOLS_TCTI: tcti }, cwd: dir });
    return stdout;
  };
  const userDataWrites: Uint8Array[] = [];
  let proxy: Server | undefined;
  try {
    await waitForPort(port, 5000);
    let akPem = '';
    if (options.provision !== false) {
      await tool(['tpm2_createprimary', '-Q', '-C', 'o', '-g', 'sha256', '-G', 'rsa2048:rsassa-sha256:null', '-a', 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign|noda', '-c', 'ak.ctx']);
      await tool(['tpm2_evictcontrol', '-Q', '-C', 'o', '-c', 'ak.ctx', '0x81000003']);
      await tool(['tpm2_flushcontext', '-t']);
      await tool(['tpm2_readpublic', '-Q', '-c', '0x81000003', '-f', 'pem', '-o', 'ak.pem']);
      akPem = await readFile(join(dir, 'ak.pem'), 'utf8');
      // The first report, as the paravisor leaves it at boot: user-data all zero.
      const hcl = syntheticHclReport(akPem, new Uint8Array(64), options.kind);
      await writeFile(join(dir, 'hcl.bin'), hcl);
      await tool(['tpm2_nvdefine', '-Q', '0x01400001', '-C', 'o', '-s', String(hcl.length), '-a', 'ownerread|ownerwrite|authread|authwrite']);
      await tool(['tpm2_nvwrite', '-Q', '0x01400001', '-C', 'o', '-i', 'hcl.bin']);
      // Something in the measured boot, so the PCRs are not all zero.
      await tool(['tpm2_pcrextend', `16:sha256=${createHash('sha256').update('enclave-gate').digest('hex')}`]);
    }

    proxy = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port });
      // Commands to swtpm go one at a time: the client's and the paravisor's own.
      let chain: Promise<unknown> = Promise.resolve();
      const pending: ((m: Buffer) => void)[] = [];
      messages(upstream, (m) => pending.shift()?.(Buffer.from(m)));
      const roundTrip = (command: Uint8Array): Promise<Buffer> =>
        new Promise((resolve) => {
          pending.push(resolve);
          upstream.write(command);
        });
      const enqueue = <T>(fn: () => Promise<T>): Promise<T> => {
        const next = chain.then(fn);
        chain = next.catch(() => undefined);
        return next;
      };
      const refresh = async (userData: Uint8Array): Promise<void> => {
        const hcl = syntheticHclReport(akPem, userData, options.kind);
        for (let offset = 0; offset < hcl.length; offset += 1024) {
          const chunk = hcl.subarray(offset, offset + 1024);
          const params = Buffer.concat([Buffer.from([chunk.length >> 8, chunk.length & 0xff]), chunk, Buffer.from([offset >> 8, offset & 0xff])]);
          const response = await roundTrip(marshalCommand(TPM_CC.NV_Write, [TPM_RH_OWNER, AZURE_VTPM.hclReportIndex], params, true));
          if (response.readUInt32BE(6) !== 0) throw new Error(`paravisor: NV_Write of the HCL report failed 0x${response.readUInt32BE(6).toString(16)}`);
        }
      };
      messages(client, (command) => {
        const copy = Buffer.from(command);
        void enqueue(async () => {
          const response = await roundTrip(copy);
          client.write(response);
          const code = copy.readUInt32BE(6);
          if (code === TPM_CC.NV_Write && copy.readUInt32BE(14) === AZURE_VTPM.userDataIndex && response.readUInt32BE(6) === 0 && options.refreshDelayMs !== undefined) {
            // NV_Write: handles at 10 and 14, the session area after them, then TPM2B data.
            const authSize = copy.readUInt32BE(18);
            const at = 22 + authSize;
            const data = new Uint8Array(copy.subarray(at + 2, at + 2 + copy.readUInt16BE(at)));
            userDataWrites.push(data);
            const delay = options.refreshDelayMs;
            setTimeout(() => void enqueue(() => refresh(data)), delay);
          }
        });
      });
      client.on('close', () => void chain.then(() => upstream.end()));
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => proxy!.listen(0, '127.0.0.1', resolve));
    const proxyPort = (proxy.address() as AddressInfo).port;
    const server = proxy;
    return {
      device: `tcp://127.0.0.1:${proxyPort}`,
      tcti,
      akPem,
      userDataWrites,
      tool,
      async stop() {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        child.kill('SIGTERM');
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    proxy?.close();
    child.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
