// MaasClient: the MAAS API calls this tool makes, admin side (api/2.0) and machine side
// (metadata), over the HTTP layer in http.ts. Every failure is one line naming the action.
import { BadUrlError, CliError, MaasApiError, summariseBody } from '../errors.js';
import {
  bodyText,
  encodeMultipart,
  HttpSession,
  redact,
  retryPolicyFromEnv,
  timeoutFromEnv,
  type HttpDeps,
  type HttpResponse,
  type MultipartFile,
} from './http.js';
import type { Credentials, MachineJson, SignalFields, SignalFile, TokenResponse } from './types.js';

/** Injectable surroundings of a client: fetch, clock, sleep, retry policy, timeout, log. */
export type ClientDeps = HttpDeps;

/** Where the client talks to and as whom. */
export interface MaasClientOptions {
  /** MAAS base URL including /MAAS, without a trailing slash, e.g. http://10.0.0.2:5240/MAAS */
  baseUrl: string;
  credentials?: Credentials;
}

/** The metadata API version the client speaks (upstream's MD_VERSION). */
export const METADATA_VERSION = '2012-03-01';

/** List filters of `GET /api/2.0/machines/` (docs/protocol.md §3.2): values OR'ed within a filter, filters AND'ed. */
export interface MachineFilters {
  hostname?: string[];
  mac_address?: string[];
  id?: string[];
}

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

/**
 * The metadata base of docs/protocol.md §1.5: only the scheme and host[:port] of `url` are kept and
 * `/MAAS/metadata/2012-03-01/` is appended, so a creds file's `endpoint`
 * (…/MAAS/metadata/status/<id>) and a MAAS base URL give the same result.
 */
export function metadataBase(url: string): string {
  return `${new URL(url).origin}/MAAS/metadata/${METADATA_VERSION}/`;
}

/** The calls of the MAAS API this tool makes. One instance keeps its clock-skew correction. */
export class MaasClient {
  readonly baseUrl: string;
  readonly credentials: Credentials | undefined;
  private readonly http: HttpSession;

  constructor(options: MaasClientOptions, deps: ClientDeps = {}) {
    this.baseUrl = normaliseMaasUrl(options.baseUrl);
    this.credentials = options.credentials;
    this.http = new HttpSession({
      ...deps,
      retry: deps.retry ?? retryPolicyFromEnv(),
      timeoutMs: deps.timeoutMs ?? timeoutFromEnv(),
    });
  }

  /**
   * A client for the machine-side metadata calls (downloadScripts, signal). `endpointOrUrl` may
   * be a creds file's endpoint or any MAAS URL: only its scheme and host[:port] are used.
   */
  static forMetadata(endpointOrUrl: string, credentials: Credentials | undefined, deps: ClientDeps = {}): MaasClient {
    const origin = new URL(normaliseMaasUrl(endpointOrUrl, 'the metadata URL')).origin;
    return new MaasClient({ baseUrl: `${origin}/MAAS`, credentials }, deps);
  }

  /** The metadata base URL used by downloadScripts and signal. */
  get metadataUrl(): string {
    return metadataBase(this.baseUrl);
  }

  /** The clock-skew correction (seconds) learnt so far from a 401/403 Date header. */
  get skewSeconds(): number {
    return this.http.skewSeconds;
  }

  /** GET api/2.0/machines/ with filters; retried. */
  async listMachines(filters: MachineFilters): Promise<MachineJson[]> {
    const action = 'Looking up machines';
    const query = new URLSearchParams();
    for (const [key, values] of Object.entries(filters) as [string, string[] | undefined][]) {
      for (const value of values ?? []) query.append(key, value);
    }
    const search = query.size > 0 ? `?${query.toString()}` : '';
    const response = await this.send({ action, method: 'GET', path: `/api/2.0/machines/${search}`, retry: true });
    const list = this.json(action, response);
    if (!Array.isArray(list)) throw this.unexpected(action, response, 'a machine list');
    return list.map((item) => this.machine(action, response, item));
  }

  /**
   * POST api/2.0/machines/ (multipart, an array value repeats the field). Not retried: the
   * server may have created the machine before an answer was lost, so the caller looks the
   * machine up again before another create (see registerMachine). The skew fix still applies.
   */
  async createMachine(fields: Record<string, string | string[]>): Promise<MachineJson> {
    const action = 'Machine creation';
    const pairs: [string, string][] = [];
    for (const [name, value] of Object.entries(fields)) {
      for (const item of Array.isArray(value) ? value : [value]) pairs.push([name, item]);
    }
    const response = await this.send({ action, method: 'POST', path: '/api/2.0/machines/', fields: pairs, retry: false });
    return this.machine(action, response, this.json(action, response));
  }

  /** GET api/2.0/machines/{id}/; retried. */
  async readMachine(systemId: string): Promise<MachineJson> {
    const action = `Reading machine ${systemId}`;
    const response = await this.send({ action, method: 'GET', path: `/api/2.0/machines/${encodeURIComponent(systemId)}/`, retry: true });
    return this.machine(action, response, this.json(action, response));
  }

  /** GET api/2.0/machines/{id}/?op=get_token; null when the machine has no token. Retried. */
  async getMachineToken(systemId: string): Promise<TokenResponse | null> {
    const action = 'Getting machine credentials';
    const response = await this.send({
      action,
      method: 'GET',
      path: `/api/2.0/machines/${encodeURIComponent(systemId)}/?op=get_token`,
      retry: true,
    });
    const value = this.json(action, response);
    if (value === null) return null;
    return this.token(action, response, value);
  }

  /**
   * POST api/2.0/machines/{id}/?op=regenerate_token (docs/design.md D5, an extension of the bundled
   * server): a new token replaces the old one at once. A server without the op gives a clear
   * CliError. Retried: a repeat after a lost answer only regenerates again.
   */
  async regenerateMachineToken(systemId: string): Promise<TokenResponse> {
    const action = 'Regenerating machine credentials';
    let response: HttpResponse;
    try {
      response = await this.send({
        action,
        method: 'POST',
        path: `/api/2.0/machines/${encodeURIComponent(systemId)}/?op=regenerate_token`,
        fields: [],
        retry: true,
      });
    } catch (error) {
      if (error instanceof MaasApiError && lacksOperation(error)) {
        throw new CliError(
          `${action} failed: the MAAS server at ${new URL(this.baseUrl).origin} has no op=regenerate_token (HTTP ${error.status} ${error.reason}); ` +
            'only servers with this extension can regenerate tokens: run get-machine-token without --regenerate to fetch the current one',
          { cause: error },
        );
      }
      throw error;
    }
    const value = this.json(action, response);
    if (value === null) throw new CliError(`${action} failed: the server returned no token for machine ${systemId}`);
    return this.token(action, response, value);
  }

  /** POST api/2.0/machines/{id}/?op=release; retried (releasing twice is harmless). */
  async releaseMachine(systemId: string): Promise<MachineJson> {
    const action = `Releasing machine ${systemId}`;
    const response = await this.send({
      action,
      method: 'POST',
      path: `/api/2.0/machines/${encodeURIComponent(systemId)}/?op=release`,
      fields: [],
      retry: true,
    });
    return this.machine(action, response, this.json(action, response));
  }

  /** GET <metadata>/maas-scripts with the machine credentials: the tarball, or null on 204. Retried. */
  async downloadScripts(): Promise<Uint8Array | null> {
    const response = await this.http.send({
      action: 'Downloading scripts',
      method: 'GET',
      url: `${this.metadataUrl}maas-scripts`,
      credentials: this.credentials,
      retry: true,
    });
    return response.status === 204 ? null : response.body;
  }

  /**
   * POST <metadata>/ with op=signal then the fields in the order of docs/protocol.md §4.1 (absent
   * ones omitted), then the files in the given order. Anything but exactly 200 is an error. Retried
   * per the policy.
   */
  async signal(fields: SignalFields, files: SignalFile[]): Promise<void> {
    const action = `Sending the result of ${fields.name}`;
    const pairs: [string, string][] = [['op', 'signal'], ['status', fields.status]];
    if (fields.error !== undefined) pairs.push(['error', fields.error]);
    if (fields.script_result_id !== undefined) pairs.push(['script_result_id', String(fields.script_result_id)]);
    pairs.push(['runtime', formatRuntime(fields.runtime)]);
    pairs.push(['exit_status', String(fields.exit_status)]);
    pairs.push(['name', fields.name]);
    if (fields.script_version_id !== undefined) pairs.push(['script_version_id', String(fields.script_version_id)]);
    const { body, contentType } = encodeMultipart(pairs, files as MultipartFile[]);
    const response = await this.http.send({
      action,
      method: 'POST',
      url: this.metadataUrl,
      credentials: this.credentials,
      body: { bytes: body, contentType },
      retry: true,
    });
    if (response.status !== 200) {
      throw new MaasApiError(action, response.status, `${response.reason} (only 200 means stored)`, redact(bodyText(response), this.credentials));
    }
  }

  private send(request: {
    action: string;
    method: 'GET' | 'POST';
    path: string;
    fields?: [string, string][];
    retry: boolean;
  }): Promise<HttpResponse> {
    const body = request.fields ? encodeMultipart(request.fields) : undefined;
    return this.http.send({
      action: request.action,
      method: request.method,
      url: `${this.baseUrl}${request.path}`,
      credentials: this.credentials,
      body: body && { bytes: body.body, contentType: body.contentType },
      retry: request.retry,
    });
  }

  private json(action: string, response: HttpResponse): unknown {
    try {
      return JSON.parse(bodyText(response));
    } catch {
      throw this.unexpected(action, response, 'JSON');
    }
  }

  private unexpected(action: string, response: HttpResponse, wanted: string): CliError {
    const text = redact(bodyText(response), this.credentials);
    const what = text.trim() === '' ? 'an empty body' : `something else${summariseBody(text, 80)}`;
    return new CliError(
      `${action} failed: the server answered HTTP ${response.status} with ${what} instead of ${wanted}; check that ${this.baseUrl} is a MAAS URL ending in /MAAS`,
    );
  }

  private machine(action: string, response: HttpResponse, value: unknown): MachineJson {
    if (typeof value !== 'object' || value === null || typeof (value as { system_id?: unknown }).system_id !== 'string') {
      throw this.unexpected(action, response, 'a machine with a system_id');
    }
    return value as MachineJson;
  }

  private token(action: string, response: HttpResponse, value: unknown): TokenResponse {
    const token = value as Partial<Record<keyof TokenResponse, unknown>>;
    const ok = typeof value === 'object' && value !== null && ['token_key', 'token_secret', 'consumer_key'].every((k) => isText(token[k as keyof TokenResponse]));
    if (!ok) throw this.unexpected(action, response, 'a token {consumer_key, token_key, token_secret}');
    return { consumer_key: token.consumer_key as string, token_key: token.token_key as string, token_secret: token.token_secret as string };
  }
}

function isText(value: unknown): boolean {
  return typeof value === 'string' && value !== '' && !value.includes(':');
}

// Upstream answers an unknown (method, op) with 400 "Unrecognised signature"; others use 404/405/501.
function lacksOperation(error: MaasApiError): boolean {
  if (error.status === 405 || error.status === 501) return true;
  if (error.status === 400) return /unrecognised signature|unrecognized signature|unknown op/i.test(error.body);
  return error.status === 404 && !/no machine matches/i.test(error.body);
}

// Python's float repr for the runtimes the runner measures: "0.5", "3.0".
function formatRuntime(runtime: number): string {
  return Number.isInteger(runtime) ? runtime.toFixed(1) : String(runtime);
}
