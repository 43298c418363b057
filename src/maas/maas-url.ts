// MAAS URLs as the command line takes them: checked and normalised, and redacted for messages.
// Apart from the client so that parsing the command line loads no HTTP code.
import { BadUrlError } from '../errors.js';

/**
 * Checks that `text` is an http(s) URL and returns it without trailing slashes. `what` names the
 * argument in the BadUrlError (a UsageError).
 */
export function normaliseMaasUrl(text: string, what = 'MAAS_URL'): string {
  // Checked on the text, before parsing: even a value that is no URL must not be repeated with
  // the password it carries.
  if (USERINFO.test(text)) {
    throw new BadUrlError(what, undefined, `must not carry a user name or password ('${redactUrl(text)}'); MAAS authenticates with the API key: drop the part before '@'`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new BadUrlError(what, text, 'is not a URL; give the MAAS address, e.g. http://maas.example.com:5240/MAAS');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new BadUrlError(what, text, 'is not an http(s) URL; give the MAAS address, e.g. http://maas.example.com:5240/MAAS');
  }
  if (url.username || url.password) {
    // The value is not repeated: it holds the password.
    throw new BadUrlError(what, undefined, 'must not carry a user name or password; MAAS authenticates with the API key');
  }
  if (url.search || url.hash) throw new BadUrlError(what, text, 'must not have a query or fragment');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

// "scheme://user[:password]@" at the start of a URL, up to the last "@" before the path: a
// password may itself contain "@" (e.g. "http://u@x:secret@host"), and all of it is hidden. URL
// parsers also take "http:/u:p@host" and "http:u:p@host" (fewer slashes) as user information.
const USERINFO = /^([a-z][a-z0-9+.-]*:\/{0,3})[^/?#]*@/i;

/** `text` with the user name and password of a URL replaced by "***", for messages. */
export function redactUrl(text: string): string {
  return text.replace(USERINFO, '$1***@');
}
