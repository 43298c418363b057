// The project's error classes. Every error a user can see is a CliError: its message is one
// line saying what failed and how to fix it, its exitCode is what the process exits with, and its
// `code` is a stable name that code branches on (never the message text, which is for people).
//
// The codes:
//   MRS_FAILED              an operational failure with no more specific code (exit 1)
//   MRS_USAGE               bad command-line input or a bad input file (exit 2)
//   MRS_BAD_URL             a URL argument that cannot be a MAAS URL (exit 2; BadUrlError)
//   MRS_NOT_FOUND_FILE      a creds file that does not exist (exit 2; CredsFileError)
//   MRS_CREDS_UNREADABLE    a creds file that exists but cannot be read (exit 2; CredsFileError)
//   MRS_CREDS_INVALID       a creds file that is not a usable creds file (exit 2; CredsFileError)
//   MRS_FILE_WRITE          a file that could not be written (exit 2 when the path or its
//                           permissions are at fault, else 1)
//   MRS_MAAS_HTTP           MAAS answered with an HTTP error (exit 1; MaasApiError)
//   MRS_UNREACHABLE         MAAS could not be reached at all (exit 1; MaasUnreachableError)
//   MRS_COLLECTOR           a collector could not produce its output (exit 1; CollectorError)
//   MRS_PARSE               text without the expected format (exit 1; ParseError)
//   MRS_REPORT_INCOMPLETE   a report run that left results undelivered or had problems (exit 1;
//                           ReportIncompleteError)
//   MRS_IDENTITY_CONFLICT   a machine found by MAC whose hardware UUID is another's (exit 1)
// The bundled server has errors of its own (src/server/errors.ts); the serve command maps them.

/** The stable codes of the errors above. */
export type ErrorCode =
  | 'MRS_FAILED'
  | 'MRS_USAGE'
  | 'MRS_BAD_URL'
  | 'MRS_NOT_FOUND_FILE'
  | 'MRS_CREDS_UNREADABLE'
  | 'MRS_CREDS_INVALID'
  | 'MRS_FILE_WRITE'
  | 'MRS_MAAS_HTTP'
  | 'MRS_UNREACHABLE'
  | 'MRS_COLLECTOR'
  | 'MRS_PARSE'
  | 'MRS_REPORT_INCOMPLETE'
  | 'MRS_IDENTITY_CONFLICT';

/** Options every error takes: the error it wraps, and a code more specific than its class's. */
export interface CliErrorOptions {
  cause?: unknown;
  code?: ErrorCode;
}

/** Base class: a failure that ends a command with a one-line message. Exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
  exitCode = 1;
  /** The stable name of this failure (see the list at the top of this file). */
  readonly code: ErrorCode;
  constructor(message: string, options?: CliErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = options?.code ?? 'MRS_FAILED';
  }
}

/** Bad command-line input or a bad input file: exit code 2. */
export class UsageError extends CliError {
  override name = 'UsageError';
  override exitCode = 2;
  constructor(message: string, options?: CliErrorOptions) {
    super(message, { code: 'MRS_USAGE', ...options });
  }
}

/** A URL argument that cannot be a MAAS URL. `problem` says why, without naming the argument. */
export class BadUrlError extends UsageError {
  override name = 'BadUrlError';
  constructor(
    /** The argument, e.g. MAAS_URL. */
    readonly what: string,
    /** The value as given, or undefined when it must not be repeated (it holds a password). */
    readonly value: string | undefined,
    /** What is wrong and how to fix it, e.g. "is not a URL; give the MAAS address, …". */
    readonly problem: string,
  ) {
    super(`${what} ${value === undefined ? '' : `'${value}' `}${problem}`, { code: 'MRS_BAD_URL' });
  }
}

/** A creds file that is missing, unreadable or not a creds file. */
export class CredsFileError extends UsageError {
  override name = 'CredsFileError';
  constructor(
    readonly path: string,
    code: 'MRS_NOT_FOUND_FILE' | 'MRS_CREDS_UNREADABLE' | 'MRS_CREDS_INVALID',
    /** What is wrong with the file, e.g. "creds file x.yaml is not valid YAML at line 2". */
    readonly problem: string,
    /** How to fix it. */
    readonly fix: string,
    options?: { cause?: unknown },
  ) {
    super(`${problem}; ${fix}`, { ...options, code });
  }
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
    super(`${action} failed: HTTP ${status} ${reason}${summariseBody(body)}`, { code: 'MRS_MAAS_HTTP' });
  }

  /** True for answers worth retrying later (see isRetryableStatus); false when the server rejected the request. */
  get retryable(): boolean {
    return isRetryableStatus(this.status);
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
    super(`${action} failed: cannot reach MAAS at ${url}: ${detail}`, { ...options, code: 'MRS_UNREACHABLE' });
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
    super(`collector "${collector}" failed: ${detail}`, { ...options, code: 'MRS_COLLECTOR' });
  }
}

/** Text that does not have the expected format; names the source (a path or command). */
export class ParseError extends CliError {
  override name = 'ParseError';
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super(`cannot parse ${source}: ${detail}`, { code: 'MRS_PARSE' });
  }
}

/** A report run that had problems or kept results undelivered; `detail` is the message without the command's name. */
export class ReportIncompleteError extends CliError {
  override name = 'ReportIncompleteError';
  constructor(
    readonly command: string,
    readonly detail: string,
  ) {
    super(`${command}: ${detail}`, { code: 'MRS_REPORT_INCOMPLETE' });
  }
}

/** Statuses worth retrying: server errors, plus 408, 409 and 429 (and 503, a 5xx). */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 409 || status === 429;
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

/** The first line of an error's message, for one-line reports; the error's name when the message is empty. */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.trim() || (error instanceof Error ? error.name : 'unknown error');
}
