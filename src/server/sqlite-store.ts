// SQLite Store (better-sqlite3): the server's state in one file that survives restarts. Each
// request's writes run in one SQLite transaction. Records are kept as JSON documents beside the
// columns the server looks them up by.
import { closeSync, constants as fsConstants, openSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { oneLine } from '../errors.js';
import { isStandalone } from '../standalone.js';
import { ServerStartError } from './errors.js';
import { apiKeyString, newToken } from './ids.js';
import { NONCE_TTL_SECONDS } from './store.js';
import type { EventRecord, MachineRecord, ScriptRecord, ScriptResultRecord, Store, TokenRecord, UserRecord } from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (username TEXT PRIMARY KEY, is_admin INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
  token_key TEXT PRIMARY KEY, consumer_key TEXT NOT NULL, consumer_secret TEXT NOT NULL,
  token_secret TEXT NOT NULL, username TEXT, system_id TEXT);
CREATE INDEX IF NOT EXISTS tokens_by_machine ON tokens(system_id);
CREATE TABLE IF NOT EXISTS machines (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, system_id TEXT NOT NULL UNIQUE, hostname TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS machines_by_hostname ON machines(hostname);
CREATE TABLE IF NOT EXISTS machine_macs (system_id TEXT NOT NULL, mac TEXT NOT NULL, PRIMARY KEY (system_id, mac));
CREATE INDEX IF NOT EXISTS machine_macs_by_mac ON machine_macs(mac);
CREATE TABLE IF NOT EXISTS machine_uuids (system_id TEXT PRIMARY KEY, uuid TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS machine_uuids_by_uuid ON machine_uuids(uuid);
CREATE TABLE IF NOT EXISTS script_results (
  id INTEGER PRIMARY KEY, script_set_id INTEGER NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS results_by_set ON script_results(script_set_id, name, id);
CREATE TABLE IF NOT EXISTS scripts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (
  consumer_key TEXT NOT NULL, token_key TEXT NOT NULL, nonce TEXT NOT NULL, at INTEGER NOT NULL,
  PRIMARY KEY (consumer_key, token_key, nonce));
CREATE INDEX IF NOT EXISTS nonces_by_time ON nonces(at);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, system_id TEXT NOT NULL, at REAL NOT NULL, type TEXT NOT NULL, description TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_machine ON events(system_id);
`;

interface TokenRow {
  token_key: string;
  consumer_key: string;
  consumer_secret: string;
  token_secret: string;
  username: string | null;
  system_id: string | null;
}

/** Loads better-sqlite3 lazily, so the CLI (and its single-file build) runs without the addon. */
export function loadSqlite(): typeof BetterSqlite3 {
  // The standalone executable holds no native addon; rather than load one from whatever
  // node_modules happens to sit near it, it refuses.
  if (isStandalone()) {
    throw new ServerStartError(
      'MRS_SERVER_SQLITE_MISSING',
      `${basename(process.execPath)} is the standalone executable, which has no SQLite support for --db: to keep state in a file, run the single-file maas-run-scripts with Node >= 20 and the better-sqlite3 package (or install the npm package); or run serve without --db to keep state in memory`,
    );
  }
  try {
    return createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3;
  } catch (error) {
    throw new ServerStartError(
      'MRS_SERVER_SQLITE_MISSING',
      `SQLite storage needs the better-sqlite3 module, which cannot be loaded here (${oneLine(error)}): install the package with its dependencies, or run without --db to keep state in memory`,
      { cause: error },
    );
  }
}

/** A Store in the SQLite file at `path` (created when missing; ":memory:" works too). */
export function sqliteStore(path: string, options: { warn?: (line: string) => void } = {}): Store {
  loadSqlite(); // without the addon (or in the standalone) refuse before any file is made
  const exposure = createPrivately(path);
  const db = openDatabase(path);
  if (exposure) options.warn?.(exposure);
  const checkpointer = startCheckpointer(db, path, options.warn);

  const q = {
    getUser: db.prepare<[string], { username: string; is_admin: number }>('SELECT username, is_admin FROM users WHERE username = ?'),
    putUser: db.prepare('INSERT OR REPLACE INTO users (username, is_admin) VALUES (?, ?)'),
    apiKeysOf: db.prepare<[string], TokenRow>('SELECT * FROM tokens WHERE username = ? ORDER BY rowid'),
    getToken: db.prepare<[string], TokenRow>('SELECT * FROM tokens WHERE token_key = ?'),
    putToken: db.prepare(
      'INSERT OR REPLACE INTO tokens (token_key, consumer_key, consumer_secret, token_secret, username, system_id) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    deleteToken: db.prepare('DELETE FROM tokens WHERE token_key = ?'),
    machineToken: db.prepare<[string], TokenRow>('SELECT * FROM tokens WHERE system_id = ? LIMIT 1'),
    getMachine: db.prepare<[string], { doc: string }>('SELECT doc FROM machines WHERE system_id = ?'),
    machineByHostname: db.prepare<[string], { doc: string }>('SELECT doc FROM machines WHERE hostname = ? ORDER BY seq LIMIT 1'),
    listMachines: db.prepare<[], { doc: string }>('SELECT doc FROM machines ORDER BY seq'),
    updateMachine: db.prepare('UPDATE machines SET hostname = ?, doc = ? WHERE system_id = ?'),
    insertMachine: db.prepare('INSERT INTO machines (system_id, hostname, doc) VALUES (?, ?, ?)'),
    deleteMachine: db.prepare('DELETE FROM machines WHERE system_id = ?'),
    deleteMacs: db.prepare('DELETE FROM machine_macs WHERE system_id = ?'),
    insertMac: db.prepare('INSERT OR IGNORE INTO machine_macs (system_id, mac) VALUES (?, ?)'),
    machinesByMac: db.prepare<[string], { doc: string }>(
      'SELECT m.doc FROM machines m WHERE m.system_id IN (SELECT system_id FROM machine_macs WHERE mac IN (SELECT value FROM json_each(?))) ORDER BY m.seq',
    ),
    deleteUuid: db.prepare('DELETE FROM machine_uuids WHERE system_id = ?'),
    insertUuid: db.prepare('INSERT INTO machine_uuids (system_id, uuid) VALUES (?, ?)'),
    machinesByUuid: db.prepare<[string], { doc: string }>(
      'SELECT m.doc FROM machines m JOIN machine_uuids u ON u.system_id = m.system_id WHERE u.uuid = ? ORDER BY m.seq',
    ),
    resultsOfSet: db.prepare<[number], { doc: string }>('SELECT doc FROM script_results WHERE script_set_id = ? ORDER BY name, id'),
    latestResult: db.prepare<[number, string], { doc: string }>('SELECT doc FROM script_results WHERE script_set_id = ? AND name = ? ORDER BY id DESC LIMIT 1'),
    getResult: db.prepare<[number], { doc: string }>('SELECT doc FROM script_results WHERE id = ?'),
    putResult: db.prepare('INSERT OR REPLACE INTO script_results (id, script_set_id, name, doc) VALUES (?, ?, ?, ?)'),
    deleteResultsOfScript: db.prepare("DELETE FROM script_results WHERE name = ? AND json_extract(doc, '$.scriptVersionId') = ?"),
    nextId: db.prepare<[string], { value: number }>(
      'INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value',
    ),
    getScript: db.prepare<[string], { doc: string }>('SELECT doc FROM scripts WHERE name = ?'),
    listScripts: db.prepare<[], { doc: string }>('SELECT doc FROM scripts ORDER BY id'),
    putScript: db.prepare('INSERT OR REPLACE INTO scripts (id, name, doc) VALUES (?, ?, ?)'),
    deleteScript: db.prepare('DELETE FROM scripts WHERE name = ?'),
    insertNonce: db.prepare('INSERT OR IGNORE INTO nonces (consumer_key, token_key, nonce, at) VALUES (?, ?, ?, ?)'),
    nonceUsed: db.prepare<[string, string, string], { at: number }>('SELECT at FROM nonces WHERE consumer_key = ? AND token_key = ? AND nonce = ?'),
    purgeNonces: db.prepare('DELETE FROM nonces WHERE at < ?'),
    addEvent: db.prepare('INSERT INTO events (system_id, at, type, description) VALUES (?, ?, ?, ?)'),
    eventsOf: db.prepare<[string], { id: number; system_id: string; at: number; type: string; description: string }>(
      'SELECT * FROM events WHERE system_id = ? ORDER BY id',
    ),
  };
  let noncePurgeAt = 0;
  // Nonces accepted but not yet written, keyed by consumer, token and nonce. They are written in
  // the next transaction, before anything else it does (so a request that changed state has its
  // nonce stored in the same commit), or right after the current event-loop turn otherwise: one
  // commit for many requests instead of one per request.
  const pendingNonces = new Map<string, [string, string, string, number]>();
  let flushScheduled = false;
  const writeNonces = (): Map<string, [string, string, string, number]> => {
    const written = new Map(pendingNonces);
    for (const row of pendingNonces.values()) q.insertNonce.run(...row);
    pendingNonces.clear();
    return written;
  };
  const flushNonces = () => {
    flushScheduled = false;
    if (pendingNonces.size > 0 && db.open) db.transaction(writeNonces).immediate();
  };

  const toToken = (row: TokenRow | undefined): TokenRecord | undefined =>
    row && {
      consumerKey: row.consumer_key,
      consumerSecret: row.consumer_secret,
      tokenKey: row.token_key,
      tokenSecret: row.token_secret,
      username: row.username,
      systemId: row.system_id,
    };
  const parse = <T>(row: { doc: string } | undefined): T | undefined => (row ? (JSON.parse(row.doc) as T) : undefined);

  const store: Store = {
    groupCommit: true,
    transaction<T>(fn: () => T): T {
      // better-sqlite3 turns a nested transaction into a savepoint of the outer one. IMMEDIATE:
      // the write lock is taken (waiting for the checkpointer if it must) before anything is
      // read, so a transaction never fails on upgrading a read snapshot that went stale.
      if (db.inTransaction) return db.transaction(fn)();
      let written = new Map<string, [string, string, string, number]>();
      try {
        return db
          .transaction(() => {
            written = writeNonces();
            return fn();
          })
          .immediate();
      } catch (error) {
        // Rolled back: the nonces it carried are still to be written.
        for (const [key, row] of written) pendingNonces.set(key, row);
        throw error;
      }
    },

    addUser(username, { admin }) {
      if (store.getUser(username)) throw new Error(`user ${username} already exists`);
      const token = newToken({ username });
      store.putUserWithKey({ username, isAdmin: admin }, token);
      return apiKeyString(token);
    },
    getUser(username) {
      const row = q.getUser.get(username);
      return row && { username: row.username, isAdmin: row.is_admin === 1 };
    },
    putUserWithKey(user: UserRecord, token: TokenRecord) {
      store.transaction(() => {
        q.putUser.run(user.username, user.isAdmin ? 1 : 0);
        store.putToken({ ...token, username: user.username, systemId: null });
      });
    },

    apiKeysOf: (username) => q.apiKeysOf.all(username).map((row) => toToken(row)!),
    getToken: (tokenKey) => toToken(q.getToken.get(tokenKey)),
    putToken(t) {
      q.putToken.run(t.tokenKey, t.consumerKey, t.consumerSecret, t.tokenSecret, t.username, t.systemId);
    },
    deleteToken: (tokenKey) => void q.deleteToken.run(tokenKey),
    machineToken: (systemId) => toToken(q.machineToken.get(systemId)),

    getMachine: (systemId) => parse<MachineRecord>(q.getMachine.get(systemId)),
    machineByHostname: (hostname) => parse<MachineRecord>(q.machineByHostname.get(hostname)),
    listMachines: () => q.listMachines.all().map((row) => JSON.parse(row.doc) as MachineRecord),
    putMachine(machine) {
      store.transaction(() => {
        const doc = JSON.stringify(machine);
        const changed = q.updateMachine.run(machine.hostname, doc, machine.systemId).changes;
        if (changed === 0) q.insertMachine.run(machine.systemId, machine.hostname, doc);
        q.deleteMacs.run(machine.systemId);
        for (const mac of machine.macs) q.insertMac.run(machine.systemId, mac);
        q.deleteUuid.run(machine.systemId);
        if (machine.hardwareUuid !== null) q.insertUuid.run(machine.systemId, machine.hardwareUuid);
      });
    },
    deleteMachine(systemId) {
      store.transaction(() => {
        q.deleteMachine.run(systemId);
        q.deleteMacs.run(systemId);
        q.deleteUuid.run(systemId);
      });
    },
    machinesByMac: (macs) => q.machinesByMac.all(JSON.stringify(macs)).map((row) => JSON.parse(row.doc) as MachineRecord),
    machinesByHardwareUuid: (uuid) => q.machinesByUuid.all(uuid).map((row) => JSON.parse(row.doc) as MachineRecord),

    resultsOfSet: (scriptSetId) => q.resultsOfSet.all(scriptSetId).map((row) => JSON.parse(row.doc) as ScriptResultRecord),
    latestResult: (scriptSetId, name) => parse<ScriptResultRecord>(q.latestResult.get(scriptSetId, name)),
    getResult: (id) => parse<ScriptResultRecord>(q.getResult.get(id)),
    putResult(result) {
      q.putResult.run(result.id, result.scriptSetId, result.name, JSON.stringify(result));
    },
    deleteResultsOfScript(name, scriptVersionId) {
      q.deleteResultsOfScript.run(name, scriptVersionId);
    },
    nextId: (counter) => q.nextId.get(counter)!.value,

    getScript: (name) => parse<ScriptRecord>(q.getScript.get(name)),
    listScripts: () => q.listScripts.all().map((row) => JSON.parse(row.doc) as ScriptRecord),
    putScript(script) {
      q.putScript.run(script.id, script.name, JSON.stringify(script));
    },
    deleteScript: (name) => void q.deleteScript.run(name),

    useNonce(consumerKey, tokenKey, nonce, nowSeconds) {
      const key = JSON.stringify([consumerKey, tokenKey, nonce]);
      if (pendingNonces.has(key) || q.nonceUsed.get(consumerKey, tokenKey, nonce)) return false;
      pendingNonces.set(key, [consumerKey, tokenKey, nonce, nowSeconds]);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushNonces);
      }
      // Often and by index (nonces_by_time): each purge removes a few seconds' worth, so none
      // of them holds up the requests waiting behind it.
      if (nowSeconds >= noncePurgeAt) {
        q.purgeNonces.run(nowSeconds - NONCE_TTL_SECONDS);
        noncePurgeAt = nowSeconds + 5;
      }
      return true;
    },

    addEvent(event) {
      q.addEvent.run(event.systemId, event.at, event.type, event.description);
    },
    eventsOf: (systemId): EventRecord[] =>
      q.eventsOf.all(systemId).map((row) => ({ id: row.id, systemId: row.system_id, at: row.at, type: row.type, description: row.description })),

    close() {
      flushNonces();
      checkpointer?.stop();
      if (db.open) db.close();
    },
  };
  return store;
}

// The checkpointer's own code, run in a worker thread with its own connection to the file.
const CHECKPOINT_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 200');
const done = new Int32Array(workerData.done);
const timer = setInterval(() => {
  try {
    const [passive] = db.pragma('wal_checkpoint(PASSIVE)');
    // A log kept busy by writers is never all copied at the moment a writer starts, so it would
    // grow for ever: once it is long, a RESTART (which makes writers wait until it is done, and
    // has little left to copy right after the PASSIVE one) lets the next writer start it afresh.
    if (passive && passive.log > workerData.restartPages) db.pragma('wal_checkpoint(RESTART)');
  } catch (error) {
    parentPort.postMessage(String(error && error.message));
  }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  try { db.close(); } finally { Atomics.store(done, 0, 1); Atomics.notify(done, 0); process.exit(0); }
});
`;

/** How often the checkpointer moves the write-ahead log into the database file. */
const CHECKPOINT_INTERVAL_MS = 250;
/** Log pages (4 KiB each) past which the log is started afresh: 16 MiB. */
const CHECKPOINT_RESTART_PAGES = 4096;

/**
 * Moves committed transactions from the write-ahead log into the database file off the request
 * path. SQLite would otherwise do it inside whichever commit fills the log past 1000 pages: a
 * multi-megabyte copy and two fsyncs in the middle of one request, every few hundred signals,
 * while every other request waits (the server's p99 latency). A PASSIVE checkpoint never blocks
 * the server's connection, and the log is reused from its start once it has been copied. If the
 * worker cannot run, SQLite's own checkpoints stay on.
 */
function startCheckpointer(db: BetterSqlite3.Database, path: string, warn?: (line: string) => void): { stop(): void } | undefined {
  if (path === ':memory:' || path === '') return undefined;
  let worker: Worker;
  const done = new SharedArrayBuffer(4);
  try {
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    worker = new Worker(CHECKPOINT_WORKER, { eval: true, workerData: { module, path, done, intervalMs: CHECKPOINT_INTERVAL_MS, restartPages: CHECKPOINT_RESTART_PAGES } });
  } catch (error) {
    warn?.(`warning: SQLite checkpoints run inside requests (the background checkpointer could not start: ${oneLine(error)})`);
    return undefined;
  }
  worker.unref();
  db.pragma('wal_autocheckpoint = 0');
  let running = true;
  const fallBack = (why: string) => {
    if (!running) return;
    running = false;
    if (db.open) db.pragma('wal_autocheckpoint = 1000');
    warn?.(`warning: SQLite checkpoints run inside requests from now on (the background checkpointer stopped: ${why})`);
  };
  worker.on('error', (error) => fallBack(oneLine(error)));
  worker.on('message', (message: string) => warn?.(`warning: a background SQLite checkpoint failed (${message}); the next one will try again`));
  worker.on('exit', () => fallBack('it exited'));
  return {
    stop() {
      if (!running) return;
      running = false;
      worker.postMessage('stop');
      // Closing is synchronous for the store's callers: wait (briefly) until the worker's
      // connection is closed, so the file is not in use once close() returns.
      Atomics.wait(new Int32Array(done), 0, 0, 2000);
    },
  };
}

/**
 * The database holds every token secret, the admin key's among them, so a new one is created
 * readable by its owner alone; SQLite gives the -wal, -shm and -journal files it creates the
 * database file's permissions. Returns the warning for existing files that others may read (used
 * as they are; the warning names the fix). A path that cannot be opened is left for
 * openDatabase to explain.
 */
function createPrivately(path: string): string | undefined {
  if (path === ':memory:' || path === '') return undefined; // SQLite's names for a database in memory
  try {
    closeSync(openSync(path, fsConstants.O_RDWR | fsConstants.O_CREAT, 0o600));
  } catch {
    return undefined;
  }
  const exposed = [path, `${path}-wal`, `${path}-shm`, `${path}-journal`].filter((file) => {
    try {
      return (statSync(file).mode & 0o077) !== 0;
    } catch {
      return false;
    }
  });
  if (exposed.length === 0) return undefined;
  return `warning: ${exposed.join(', ')} can be read by other users and hold${exposed.length === 1 ? 's' : ''} every token secret: chmod 600 ${exposed.join(' ')}`;
}

// Opens the file and makes sure it holds this server's tables; a path that cannot be opened or a
// file that is not SQLite is the operator's to fix, said in one line.
function openDatabase(path: string): BetterSqlite3.Database {
  const Database = loadSqlite();
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
    return db;
  } catch (error) {
    if (db?.open) db.close();
    throw new ServerStartError(
      'MRS_SERVER_DB',
      `cannot use ${path} as the server's SQLite file (${oneLine(error)}): give --db a new or existing SQLite file in a writable directory that exists`,
      { cause: error },
    );
  }
}
