/**
 * The request the proxy benchmarks send, the same in each of them so their
 * numbers compare: a short OpenAI chat completion with ordinary numbers in it.
 */
export const CHAT_PATH = '/v1/chat/completions';

export const CHAT_BODY = JSON.stringify({
  model: 'enclave-demo-1',
  messages: [
    { role: 'system', content: 'You are a fraud analyst.' },
    { role: 'user', content: 'Is a 42 EUR grocery purchase at 10:00, card present, 2 km from home, suspicious? Answer briefly.' },
  ],
  max_tokens: 64,
});
