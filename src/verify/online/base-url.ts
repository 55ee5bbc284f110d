/** Base URL checks shared by the KDS and PCS fetchers. */
import { VerifyError } from '../../errors.js';

/**
 * `input` as a base URL without a trailing slash. Only http(s), no query or
 * fragment: paths are appended to it, and anything else would make the
 * request go somewhere other than the caller wrote.
 */
export function normaliseBaseUrl(input: unknown, what: string): string {
  if (typeof input !== 'string') throw new VerifyError('EG_VERIFY_USAGE', `${what} must be a URL string`);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new VerifyError('EG_VERIFY_USAGE', `${what} is not a URL`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '') {
    throw new VerifyError('EG_VERIFY_USAGE', `${what} must be an http(s) URL without query or fragment`);
  }
  return url.href.replace(/\/+$/, '');
}

/** `input` as an absolute http(s) URL (query allowed), for endpoints the caller names in full. */
export function normaliseUrl(input: unknown, what: string): string {
  if (typeof input !== 'string') throw new VerifyError('EG_VERIFY_USAGE', `${what} must be a URL string`);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new VerifyError('EG_VERIFY_USAGE', `${what} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new VerifyError('EG_VERIFY_USAGE', `${what} must be an http(s) URL`);
  return url.href;
}
