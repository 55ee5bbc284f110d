/**
 * What happens to one request, as an explicit ordered list of stages (in the
 * manner of linkerd's layered stacks). Each stage says why it sits where it
 * does; `handle` runs them and turns any failure into problem+json through
 * respond.ts, the one place that does so.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pipeline as pipe } from 'node:stream/promises';
import { errors, type Dispatcher } from 'undici';
import { EnclaveGateError, describeThrown, type ErrorCode } from '../errors.js';
import { accessLogWriter, type Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Decision } from '../policy/decision.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { RequestInput, ResponseBodyFormat, ResponseInput } from '../policy/input.js';
import { parseJsonBody, readBody } from './body.js';
import { acceptedRequestId, clientResponseHeaders, isJsonMediaType, upstreamRequestHeaders } from './headers.js';
import { buildRequestInput, buildResponseInput, type ResponseFacts } from './input.js';
import { sendProblem, toProblem } from './respond.js';
import { abortUpstreamOf, callUpstream, type AbortsUpstream, type UpstreamAnswer, type UpstreamBody } from './upstream-call.js';
import { scanPii } from '../policy/builtins/pii.js';
import { redactJson, RedactionError } from './redact.js';
import { protocolFromPath } from './stream/adapters.js';
import { StreamPolicy } from './stream/policy-stream.js';
import { policyTransform } from './stream/stream.js';
import type { FreshnessResponder } from '../ratls/freshness.js';
import { FRESHNESS_PATH } from '../wire/freshness.js';
import type { TLSSocket } from 'node:tls';
import type { CallerIdentification, CallerIdentity } from './identity.js';
import { RateLimiter, usageTokens, type Quota } from './rate-limit.js';
import type { DecisionLog } from '../audit/decision-log.js';

/** Limits the pipeline enforces. */
export interface PipelineLimits {
  readonly requestBodyBytes: number;
  readonly responseBodyBytes: number;
  readonly requestTimeoutMs: number;
  /** Hold-back window W of streamed responses, in characters (default 64; docs/streaming.md). */
  readonly streamWindowChars?: number;
  /** Held characters without a safe break after which a stream is ended with an error (default 4096). */
  readonly streamMaxHoldChars?: number;
}

/** What the pipeline needs from the rest of the proxy. */
export interface PipelineDeps {
  /** The active policy, or undefined while none is loaded (then every request is refused). */
  readonly policy: () => PolicyEngine | undefined;
  /** True while shutting down: new requests are refused. */
  readonly draining: () => boolean;
  /** Why no request is admitted right now, when the reason is not draining or a missing policy (e.g. an expired certificate). */
  readonly unavailable?: () => string | undefined;
  readonly upstream: Dispatcher;
  readonly limits: PipelineLimits;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Answers GET /.well-known/attestation; absent → the path goes through the policy like any other. */
  readonly freshness?: FreshnessResponder;
  /** Caller identity (identity.ts, docs/identity.md); absent → `input.peer` has no certificate, jwt or api_key. */
  readonly identity?: CallerIdentification;
  /** Buckets for the policy's `rate_limit` (rate-limit.ts); default: a private one. */
  readonly rateLimiter?: RateLimiter;
  /** The signed decision log (docs/audit.md): asked for room at admission, handed each finished request in `account`. */
  readonly decisionLog?: DecisionLog;
}

/** Per-request state shared by the stages. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly id: string;
  readonly startedAt: number;
  /** Parsed JSON body when the request carried one. */
  body?: { value: unknown };
  /** Raw bytes of a buffered body, forwarded unchanged. */
  rawBody?: Buffer;
  /** True once the request body has been read to the end (or there was none). */
  bodyConsumed: boolean;
  input?: RequestInput;
  /** Who is calling (stage 2b), merged into `input.peer`. */
  caller?: CallerIdentity;
  /** Set when the request decision carried a rate limit: model tokens are charged to it. */
  quota?: Quota;
  /** The request decision, for the decision log. */
  requestDecision?: Decision;
  /** The model server's answer body, once its headers are in. */
  upstreamBody?: UpstreamBody;
  policyMs: number;
  upstreamMs?: number;
  decision: 'allow' | 'deny' | 'error';
  code: ErrorCode | 'ok';
  reasons?: readonly string[];
  status?: number;
}

/** True when the request announces a body. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/** Statuses that never carry a body, so there is nothing for the response policy to read. */
function responseHasBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status !== 204 && status !== 304 && !(status >= 100 && status < 200);
}

/** Media type of a header value, lower-case, without parameters. */
function mediaType(value: string | string[] | undefined): string {
  return typeof value === 'string' ? value.split(';', 1)[0]!.trim().toLowerCase() : '';
}

/**
 * How the proxy can read a response body. An encoded (compressed) stream is
 * opaque: the window cannot see through gzip, so it must not pretend to.
 */
function responseBodyFormat(method: string, status: number, headers: Record<string, string | string[] | undefined>): ResponseBodyFormat {
  if (!responseHasBody(method, status)) return 'none';
  if (isJsonMediaType(headers['content-type'])) return 'json';
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return 'opaque';
  const type = mediaType(headers['content-type']);
  if (type === 'text/event-stream') return 'event-stream';
  if (type === 'application/x-ndjson' || type === 'application/jsonl' || type === 'application/jsonlines') return 'ndjson';
  return 'opaque';
}

/** Turns a deny or failed decision into the error the client sees. */
function decisionError(decision: Decision, denyCode: ErrorCode): { error: EnclaveGateError; status?: number } {
  if (decision.failure !== undefined) {
    return { error: new EnclaveGateError('EG_POLICY_FAILURE', `policy evaluation failed (${decision.failure}); denied`) };
  }
  const error = new EnclaveGateError(denyCode, denyCode === 'EG_POLICY_DENIED' ? 'request denied by policy' : 'response withheld by policy');
  return decision.status === undefined ? { error } : { error, status: decision.status };
}

/** Builds the request handler for the RA-TLS server. */
export function createPipeline(deps: PipelineDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { metrics, logger, limits } = deps;
  // The phase histograms' series, resolved once rather than per request.
  const totalDuration = metrics.duration.child({ phase: 'total' });
  const policyDuration = metrics.duration.child({ phase: 'policy' });
  const upstreamDuration = metrics.duration.child({ phase: 'upstream' });
  // Likewise the counters every request touches, by entrypoint and outcome.
  const evaluations = (entrypoint: 'request' | 'response'): Record<'allow' | 'deny' | 'failure', { inc(): void }> => ({
    allow: metrics.policyEvaluations.child({ entrypoint, outcome: 'allow' }),
    deny: metrics.policyEvaluations.child({ entrypoint, outcome: 'deny' }),
    failure: metrics.policyEvaluations.child({ entrypoint, outcome: 'failure' }),
  });
  const requestEvaluations = evaluations('request');
  const responseEvaluations = evaluations('response');
  const outcomeOf = (decision: Decision): 'allow' | 'deny' | 'failure' => (decision.failure ? 'failure' : decision.allow ? 'allow' : 'deny');
  const allowedRequests = metrics.requests.child({ decision: 'allow', code: 'ok' });
  const rateLimiter = deps.rateLimiter ?? new RateLimiter({ metrics });
  // The access log: one line per request, built without pino's per-call work (observability/logger.ts).
  const writeAccessLog = accessLogWriter(logger);

  // Findings are counted by type (a bounded set of detector names), never by value.
  const countPii = <T extends readonly { readonly type: string }[]>(direction: 'request' | 'response' | 'stream', findings: T): T => {
    for (const finding of findings) metrics.piiFindings.inc({ type: finding.type, direction });
    return findings;
  };

  // Stage 1 — identify. First, so that every later answer, errors included,
  // carries the request id the model server and the logs also see.
  const identify = (req: IncomingMessage, res: ServerResponse): Exchange => ({
    req,
    res,
    id: acceptedRequestId(req.headers['x-request-id']) ?? randomUUID(),
    startedAt: performance.now(),
    bodyConsumed: !hasBody(req),
    policyMs: 0,
    decision: 'allow',
    code: 'ok',
  });

  // Stage 1b — the proxy's own freshness endpoint. Before the request policy
  // on purpose: it carries no user data and never reaches the model server,
  // and a client must be able to check the TEE before it sends anything.
  const answerFreshness = async (ex: Exchange, responder: FreshnessResponder): Promise<void> => {
    if (deps.draining()) throw new EnclaveGateError('EG_NOT_READY', 'the proxy is shutting down');
    if (ex.req.method !== 'GET') {
      ex.reasons = ['method_not_allowed'];
      throw Object.assign(new EnclaveGateError('EG_BAD_REQUEST', `${FRESHNESS_PATH} accepts GET only`), { decisionStatus: 405, decisionHeaders: { allow: 'GET' } });
    }
    const query = (ex.req.url ?? '').includes('?') ? (ex.req.url ?? '').slice((ex.req.url ?? '').indexOf('?') + 1) : '';
    let answer;
    try {
      answer = await responder(ex.req.socket as TLSSocket, query);
    } catch (err) {
      const retryAfter = (err as EnclaveGateError).details?.['retryAfter'];
      if (typeof retryAfter === 'number') throw Object.assign(err as EnclaveGateError, { decisionHeaders: { 'retry-after': String(retryAfter) } });
      throw err;
    }
    const body = Buffer.from(JSON.stringify(answer));
    ex.status = 200;
    ex.res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length), 'cache-control': 'no-store', 'x-request-id': ex.id });
    ex.res.end(body);
  };

  // Stage 2 — admit. Before reading any body: a proxy without a policy or one
  // that is draining must not take on work it will not finish.
  const admit = (ex: Exchange): PolicyEngine => {
    const policy = deps.policy();
    if (deps.draining()) throw new EnclaveGateError('EG_NOT_READY', 'the proxy is shutting down');
    const reason = deps.unavailable?.();
    if (reason !== undefined) throw new EnclaveGateError('EG_NOT_READY', reason);
    if (policy === undefined) throw new EnclaveGateError('EG_NOT_READY', 'no policy is loaded');
    void ex;
    return policy;
  };

  // Stage 2b — who is calling (identity.ts). After admit, before the body:
  // a caller without valid credentials costs no body read, and an invalid
  // credential is a 401, never a policy input.
  const identifyCaller = async (ex: Exchange, identity: CallerIdentification): Promise<void> => {
    const outcome = await identity.identify(ex.req);
    if ('error' in outcome) {
      ex.reasons = outcome.reasons;
      throw Object.assign(outcome.error, { decisionHeaders: outcome.headers });
    }
    ex.caller = outcome.caller;
  };

  // Stage 3 — read the body the policy needs. JSON bodies are buffered (size
  // limit, deadline) and parsed before the policy runs, because the policy
  // decides on their content. Other bodies stream later, unseen by policy.
  const readJsonBody = async (ex: Exchange): Promise<void> => {
    if (ex.bodyConsumed || !isJsonMediaType(ex.req.headers['content-type'])) return;
    const declared = Number(ex.req.headers['content-length'] ?? NaN);
    if (declared > limits.requestBodyBytes) {
      throw new EnclaveGateError('EG_BODY_TOO_LARGE', `request body of ${declared} bytes exceeds ${limits.requestBodyBytes}`, {
        details: { limit: limits.requestBodyBytes },
      });
    }
    ex.rawBody = await readBody(ex.req, limits.requestBodyBytes, limits.requestTimeoutMs);
    ex.bodyConsumed = true;
    ex.body = ex.rawBody.length === 0 ? undefined : { value: parseJsonBody(ex.rawBody) };
  };

  // Stage 4 — request policy. Before a single byte goes upstream: fail closed.
  const requestPolicy = (ex: Exchange, policy: PolicyEngine): Decision => {
    const declaredSize = Number(ex.req.headers['content-length'] ?? 0) || 0;
    // Scan once here rather than through the builtin: a builtin call makes the
    // whole body cross out of wasm again as JSON (docs/policy.md, "Cost").
    const body = ex.body === undefined ? undefined : { value: ex.body.value, pii: countPii('request', scanPii(ex.body.value)) };
    ex.input = buildRequestInput(ex.req, ex.id, body, ex.rawBody?.length ?? declaredSize, ex.caller);
    const t0 = performance.now();
    const decision = policy.evaluateRequest(ex.input);
    ex.policyMs += performance.now() - t0;
    ex.requestDecision = decision;
    requestEvaluations[outcomeOf(decision)].inc();
    if (!decision.allow) {
      ex.reasons = decision.reasons;
      const { error, status } = decisionError(decision, 'EG_POLICY_DENIED');
      throw Object.assign(error, { decisionStatus: status, decisionHeaders: decision.headers });
    }
    // Per-party limits the policy asked for: 429 with retry-after, before anything goes upstream.
    if (decision.rate_limit !== undefined) {
      try {
        ex.quota = rateLimiter.admit(decision.rate_limit);
      } catch (err) {
        ex.reasons = (err as EnclaveGateError).details?.['reasons'] as string[] | undefined;
        throw err;
      }
    }
    return decision;
  };

  // Stage 5 — forward. Buffered bodies go out byte for byte; other bodies
  // stream with backpressure. A client that goes away aborts the upstream call.
  const forward = async (ex: Exchange, decision: Decision, client: ClientSignal): Promise<UpstreamAnswer> => {
    const headers = upstreamRequestHeaders(ex.req.headers, {
      requestId: ex.id,
      clientAddress: ex.req.socket.remoteAddress ?? '',
      host: ex.req.headers.host,
    });
    if (decision.headers) Object.assign(headers, decision.headers);
    const t0 = performance.now();
    try {
      const response = await callUpstream(
        deps.upstream,
        {
          path: ex.req.url ?? '/',
          method: (ex.req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers,
          body: ex.rawBody ?? (ex.bodyConsumed ? null : ex.req),
        },
        client,
      );
      ex.bodyConsumed = true;
      return response;
    } finally {
      ex.upstreamMs = performance.now() - t0;
    }
  };

  // Stage 6 — respond. Every response passes the response decision before the
  // client sees a byte of it (DESIGN §6): JSON is buffered (bounded), decided
  // on as a whole and redacted as the decision says; event streams and NDJSON
  // are decided on at the start and then event by event through the hold-back
  // window (stream/); bodies the proxy cannot read are put to the policy as
  // `opaque`, and the default policy refuses them on model routes.
  const respond = async (ex: Exchange, policy: PolicyEngine, upstream: UpstreamAnswer): Promise<void> => {
    const { statusCode, headers, body } = upstream;
    const format = responseBodyFormat(ex.req.method ?? 'GET', statusCode, headers);
    const decide = (input: ResponseInput): Decision => {
      const t0 = performance.now();
      const decision = policy.evaluateResponse(input);
      ex.policyMs += performance.now() - t0;
      responseEvaluations[outcomeOf(decision)].inc();
      return decision;
    };
    const refuse = (decision: Decision): never => {
      ex.reasons = decision.reasons;
      const { error, status } = decisionError(decision, 'EG_RESPONSE_DENIED');
      throw Object.assign(error, { decisionStatus: status, decisionHeaders: decision.headers });
    };
    const input = (facts: ResponseFacts): ResponseInput => buildResponseInput(ex.input!, statusCode, headers, facts);

    if (format === 'json') {
      if (headers['content-encoding'] !== undefined && headers['content-encoding'] !== 'identity') {
        body.discard();
        throw new EnclaveGateError('EG_UPSTREAM_INVALID_JSON', 'the model server sent an encoded JSON response the policy cannot read');
      }
      let raw = await body.readAll(limits.responseBodyBytes);
      let parsed: unknown;
      if (raw.length > 0) {
        try {
          parsed = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new EnclaveGateError('EG_UPSTREAM_INVALID_JSON', 'the model server sent a JSON response that does not parse');
        }
      }
      const decision = decide(input({ body_format: 'json', ...(raw.length > 0 ? { body: parsed, pii: countPii('response', scanPii(parsed)) } : {}) }));
      if (!decision.allow) refuse(decision);
      if (ex.quota !== undefined && raw.length > 0) ex.quota.charge(usageTokens(parsed));
      if (decision.redact !== undefined) {
        try {
          // Re-serialised only when something was replaced: otherwise the
          // client gets the model server's bytes unchanged.
          if (redactJson(parsed, decision.redact) > 0) raw = Buffer.from(JSON.stringify(parsed), 'utf8');
        } catch (err) {
          ex.reasons = ['policy_malformed_redact'];
          throw new EnclaveGateError('EG_POLICY_FAILURE', `policy evaluation failed (${err instanceof RedactionError ? err.message : 'redaction failed'}); denied`);
        }
      }
      const out = clientResponseHeaders(headers, ex.id);
      if (decision.headers) Object.assign(out, decision.headers);
      out['content-length'] = String(raw.length);
      ex.status = statusCode;
      ex.res.writeHead(statusCode, out);
      ex.res.end(raw);
      return;
    }

    // Streams, opaque bodies and bodiless answers: decided on before the
    // first byte, from status and headers alone.
    const decision = decide(input({ body_format: format }));
    if (!decision.allow) {
      body.discard();
      refuse(decision);
    }
    const out = clientResponseHeaders(headers, ex.id);
    if (decision.headers) Object.assign(out, decision.headers);
    ex.status = statusCode;
    if (format !== 'event-stream' && format !== 'ndjson') {
      ex.res.writeHead(statusCode, out);
      await pipe(body.stream(), ex.res);
      return;
    }
    // The policy may rewrite events, so the length is no longer known.
    delete out['content-length'];
    const stream = new StreamPolicy({
      format: format === 'ndjson' ? 'ndjson' : 'sse',
      protocol: protocolFromPath(ex.input!.path),
      requestId: ex.id,
      decide: (event) => decide(input({ body_format: format, event: { ...event, findings: countPii('stream', event.findings) } })),
      ...(limits.streamWindowChars === undefined ? {} : { windowChars: limits.streamWindowChars }),
      ...(limits.streamMaxHoldChars === undefined ? {} : { maxHoldChars: limits.streamMaxHoldChars }),
    });
    ex.res.writeHead(statusCode, out);
    try {
      await pipe(body.stream(), policyTransform(stream), ex.res);
    } finally {
      const outcome = stream.outcome;
      if (outcome.code !== 'ok') {
        ex.decision = outcome.decision;
        ex.code = outcome.code;
        ex.reasons = outcome.reasons;
      }
    }
  };

  // Stage 7 — account. Always, in `finally`: one metric sample and one access
  // log line per request, with the path but never the query or a body.
  const account = (ex: Exchange): void => {
    const totalMs = performance.now() - ex.startedAt;
    if (ex.decision === 'allow' && ex.code === 'ok') allowedRequests.inc();
    else metrics.requests.inc({ decision: ex.decision, code: ex.code });
    totalDuration.observe(totalMs / 1000);
    policyDuration.observe(ex.policyMs / 1000);
    if (ex.upstreamMs !== undefined) upstreamDuration.observe(ex.upstreamMs / 1000);
    // The decision log: the event is masked and written to text here, once the
    // answer has gone out; chaining, signing and the append happen later, in
    // batches (audit/decision-log.ts).
    if (deps.decisionLog !== undefined && ex.code !== 'EG_DECISION_LOG_UNAVAILABLE') {
      deps.decisionLog.record({
        requestId: ex.id,
        timestamp: Date.now(),
        method: ex.req.method ?? 'GET',
        url: ex.req.url ?? '/',
        address: ex.req.socket.remoteAddress ?? '',
        port: ex.req.socket.remotePort ?? 0,
        input: ex.input,
        result: ex.requestDecision,
        status: ex.status,
        outcome: ex.decision,
        code: ex.code,
        reasons: ex.reasons,
        policyMs: ex.policyMs,
        totalMs,
        policy: deps.policy(),
      });
    }
    if (logger.isLevelEnabled('info')) {
      const url = ex.req.url ?? '/';
      const q = url.indexOf('?');
      writeAccessLog({
        request_id: ex.id,
        method: ex.req.method,
        path: q === -1 ? url : url.slice(0, q),
        status: ex.status,
        decision: ex.decision,
        code: ex.code,
        ...(ex.reasons && ex.reasons.length > 0 ? { reasons: ex.reasons } : {}),
        duration_ms: Math.round(totalMs * 1000) / 1000,
        policy_ms: Math.round(ex.policyMs * 1000) / 1000,
        ...(ex.upstreamMs === undefined ? {} : { upstream_ms: Math.round(ex.upstreamMs * 1000) / 1000 }),
      });
    }
  };

  const fail = (ex: Exchange, err: unknown): void => {
    const known = err instanceof EnclaveGateError ? err : undefined;
    if (!known) logger.error({ request_id: ex.id, err: describeThrown(err) }, 'unexpected error in request pipeline');
    const extra = err as { decisionStatus?: number; decisionHeaders?: Record<string, string> };
    const problem = toProblem(known ?? err, ex.id, ex.reasons, extra.decisionStatus);
    ex.code = problem.code;
    ex.decision = problem.code === 'EG_POLICY_DENIED' || problem.code === 'EG_RESPONSE_DENIED' ? 'deny' : 'error';
    ex.status = problem.status;
    if (!ex.res.headersSent && extra.decisionHeaders) {
      for (const [name, value] of Object.entries(extra.decisionHeaders)) ex.res.setHeader(name, value);
    }
    sendProblem(ex.res, problem, !ex.bodyConsumed);
  };

  const run = async (ex: Exchange, signal: ClientSignal): Promise<void> => {
    const { req, res } = ex;
    try {
      if (deps.freshness !== undefined && (req.url ?? '/').split('?', 1)[0] === FRESHNESS_PATH) {
        await answerFreshness(ex, deps.freshness);
        return;
      }
      const policy = admit(ex);
      // A full decision log buffer: wait for room (`block`) or refuse (`fail-closed`, throws).
      const room = deps.decisionLog?.admit();
      if (room !== undefined) await room;
      if (deps.identity !== undefined) await identifyCaller(ex, deps.identity);
      await readJsonBody(ex);
      const decision = requestPolicy(ex, policy);
      const upstream = await forward(ex, decision, signal);
      ex.upstreamBody = upstream.body;
      await respond(ex, policy, upstream);
    } catch (err) {
      if (signal.aborted === true && !(err instanceof EnclaveGateError)) {
        // The client left; nobody is waiting for an answer.
        ex.decision = 'error';
        ex.code = 'EG_CLIENT_CLOSED';
        res.destroy();
      } else {
        fail(ex, err);
      }
    } finally {
      // A body no stage took (an answer that failed before it was read) must not hold its connection.
      ex.upstreamBody?.release();
      account(ex);
    }
  };

  return (req, res) => {
    res.once('close', onResponseClose);
    void run(identify(req, res), res as ClientSignal);
  };
}

/**
 * The client's response, which also carries the abort function of the
 * upstream call in flight (upstream-call.ts): no AbortController or signal
 * listener per request.
 */
type ClientSignal = ServerResponse & AbortsUpstream & { aborted?: true };

/** A response closed before it was finished: the client went away, so the upstream call is aborted. */
function onResponseClose(this: ClientSignal): void {
  if (this.writableFinished) return;
  this.aborted = true;
  abortUpstreamOf(this, new errors.RequestAbortedError());
}
