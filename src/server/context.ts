// What a route handler gets (the parsed request and the server's parts) and what it returns.
import { HttpError } from './http-error.js';
import type { Caller } from './oauth.js';
import type { ParsedForm } from './request-body.js';
import type { Store, UserRecord } from './store.js';

/** A parsed, authenticated request plus the server's store, clock and log. */
export interface RequestContext {
  store: Store;
  now: () => Date;
  log: (line: string) => void;
  method: string;
  url: URL;
  form: ParsedForm;
  caller: Caller;
}

/** A handler's answer. */
export interface Reply {
  status: number;
  body: string | Buffer;
  contentType: string;
  headers?: Record<string, string>;
  /** An open file sent instead of body, read as it goes out (and closed); size is its Content-Length. */
  file?: { fd: number; size: number };
}

/** 200 with pretty-printed JSON (4-space indent), as MAAS's API answers. */
export function jsonReply(value: unknown, status = 200): Reply {
  return { status, body: JSON.stringify(value, null, 4), contentType: 'application/json; charset=utf-8' };
}

/** A plain-text answer. */
export function textReply(status: number, body: string, contentType = 'text/plain; charset=utf-8'): Reply {
  return { status, body, contentType };
}

/** The request's `op`: query string first, then the form body (docs/protocol.md §2.1). */
export function requestOp(ctx: RequestContext): string | undefined {
  const fromQuery = ctx.url.searchParams.get('op');
  if (fromQuery !== null) return fromQuery;
  const values = ctx.form.fields.get('op');
  return values?.[values.length - 1];
}

/** 400 `Unrecognised signature: method=<M> op=<op>` for an unknown (method, op) pair. */
export function unknownOp(ctx: RequestContext): HttpError {
  return new HttpError(400, `Unrecognised signature: method=${ctx.method} op=${requestOp(ctx) ?? 'None'}`);
}

/** The active user behind an API 2.0 request; anonymous → 401, machine token → 403. */
export function apiUser(ctx: RequestContext): UserRecord {
  if (ctx.caller.kind === 'anonymous') throw new HttpError(401, 'Forbidden', 'text/plain');
  const { username } = ctx.caller.token;
  const user = username === null ? undefined : ctx.store.getUser(username);
  if (!user) throw new HttpError(403, 'User is not allowed access to this API.');
  return user;
}
