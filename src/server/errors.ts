// Why the bundled server cannot start with what it was given. These errors carry a stable code
// and no exit status: the server knows nothing of the command line, and the serve command maps
// them to its own errors (src/cli/commands/serve.ts). Request errors are HttpError (http-error.ts).
//
// The codes:
//   MRS_SERVER_CONFIG          an option the server was started with cannot be used (the admin
//                              key, the controller's name)
//   MRS_SERVER_DB              the SQLite file cannot be opened or is not an SQLite database
//   MRS_SERVER_SQLITE_MISSING  SQLite storage was asked for, but better-sqlite3 cannot be loaded

/** The stable codes of ServerStartError. */
export type ServerErrorCode = 'MRS_SERVER_CONFIG' | 'MRS_SERVER_DB' | 'MRS_SERVER_SQLITE_MISSING';

/** The server cannot start: the message is one line saying what to change. */
export class ServerStartError extends Error {
  override name = 'ServerStartError';
  /** Why, as a stable code (see the list above). */
  readonly code: ServerErrorCode;
  constructor(code: ServerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
