// The project's error classes. Every error a user can see is a CliError: its message is one
// line saying what failed and how to fix it, and its exitCode is what the process exits with.

/** Base class: a failure that ends a command with a one-line message. Exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
  exitCode = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Bad command-line input or a bad input file: exit code 2. */
export class UsageError extends CliError {
  override name = 'UsageError';
  override exitCode = 2;
}

/** A MAAS request that failed: names the action, the HTTP status and the server's reason. */
export class MaasApiError extends CliError {
  override name = 'MaasApiError';
  constructor(
    readonly action: string,
    readonly status: number,
    readonly reason: string,
    readonly body: string,
  ) {
    super(`${action} failed: HTTP ${status} ${reason}${summariseBody(body)}`);
  }

  /** True for answers worth retrying later (5xx, 408, 409, 429); false when the server rejected the request. */
  get retryable(): boolean {
    return this.status >= 500 || [408, 409, 429].includes(this.status);
  }
}

/** The server could not be reached at all (refused, DNS, timeout) after the allowed attempts. */
export class MaasUnreachableError extends CliError {
  override name = 'MaasUnreachableError';
  constructor(
    readonly action: string,
    readonly url: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${action} failed: cannot reach MAAS at ${url}: ${detail}`, options);
  }

  /** Always true: nothing was rejected, so the request may succeed later. */
  readonly retryable = true;
}

/** A collector that could not produce its output. */
export class CollectorError extends CliError {
  override name = 'CollectorError';
  constructor(
    readonly collector: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`collector "${collector}" failed: ${detail}`, options);
  }
}

/** Text that does not have the expected format; names the source (a path or command). */
export class ParseError extends CliError {
  override name = 'ParseError';
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`cannot parse ${source}: ${detail}`);
  }
}

/** Collapses a response body to at most one short line for an error message. */
export function summariseBody(body: string, max = 300): string {
  const text = looksLikeHtml(body) ? '(an HTML page, not a MAAS API answer)' : body.replace(/\s+/g, ' ').trim();
  if (!text) return '';
  return `: ${text.length > max ? `${text.slice(0, max)}…` : text}`;
}

function looksLikeHtml(body: string): boolean {
  return /^\s*<(!doctype|html|head|body)\b/i.test(body);
}

/** True when `error` is a Node system error with one of the given codes. */
export function hasCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes((error as { code?: string }).code ?? '');
}
