// Errors a request handler throws to answer with a MAAS-style error response
// (docs/protocol.md §2.8).

/** An HTTP error answer: status, body text and content type as MAAS sends them. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly body: string,
    readonly contentType = 'text/plain; charset=utf-8',
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}: ${body}`);
  }
}

/** 400 with Django-form-style field errors: `{"field": ["message", …]}`. */
export function formErrors(errors: Record<string, string[]>): HttpError {
  return new HttpError(400, JSON.stringify(errors), 'application/json; charset=utf-8');
}

/** 400 with a one-line message. */
export function badRequest(message: string): HttpError {
  return new HttpError(400, message);
}

/** 403 with a message (MAAS often sends an empty body). */
export function forbidden(message = ''): HttpError {
  return new HttpError(403, message);
}

/** 404 `No Machine matches the given query.` */
export function machineNotFound(): HttpError {
  return new HttpError(404, 'No Machine matches the given query.', 'text/plain');
}

/** 409 state conflict. */
export function conflict(message: string): HttpError {
  return new HttpError(409, message);
}
