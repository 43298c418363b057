// In-memory Store: Maps of copied records, with an undo log so a transaction that throws leaves
// no trace (the server never keeps half a request).
import { apiKeyString, newToken } from './ids.js';
import { NONCE_TTL_SECONDS } from './store.js';
import type { EventRecord, MachineRecord, ScriptRecord, ScriptResultRecord, Store, TokenRecord, UserRecord } from './store.js';

type Undo = () => void;

/** A Store that lives in this process only; state is lost when it ends. */
export function memoryStore(): Store {
  const users = new Map<string, UserRecord>();
  const tokens = new Map<string, TokenRecord>();
  const machines = new Map<string, MachineRecord>();
  const results = new Map<number, ScriptResultRecord>();
  const counters = new Map<string, number>();
  const scripts = new Map<string, ScriptRecord>();
  const nonces = new Map<string, number>();
  const events: EventRecord[] = [];
  let undo: Undo[] | null = null;
  let noncePurgeAt = 0;

  const copy = <T>(value: T): T => structuredClone(value);

  function set<K, V>(map: Map<K, V>, key: K, value: V | undefined): void {
    if (undo) {
      const had = map.has(key);
      const previous = map.get(key);
      undo.push(() => (had ? map.set(key, previous as V) : map.delete(key)));
    }
    if (value === undefined) map.delete(key);
    else map.set(key, value);
  }

  const store: Store = {
    transaction<T>(fn: () => T): T {
      if (undo) return fn(); // nested: the outer transaction decides
      undo = [];
      const eventCount = events.length;
      try {
        const value = fn();
        undo = null;
        return value;
      } catch (error) {
        const log: Undo[] = undo ?? [];
        undo = null;
        for (const step of log.reverse()) step();
        events.length = eventCount;
        throw error;
      }
    },

    addUser(username, { admin }) {
      if (users.has(username)) throw new Error(`user ${username} already exists`);
      const token = newToken({ username });
      store.putUserWithKey({ username, isAdmin: admin }, token);
      return apiKeyString(token);
    },
    getUser: (username) => copy(users.get(username)),
    putUserWithKey(user, token) {
      set(users, user.username, copy(user));
      set(tokens, token.tokenKey, copy({ ...token, username: user.username, systemId: null }));
    },

    apiKeysOf: (username) => [...tokens.values()].filter((t) => t.username === username).map(copy),
    getToken: (tokenKey) => copy(tokens.get(tokenKey)),
    putToken: (token) => set(tokens, token.tokenKey, copy(token)),
    deleteToken: (tokenKey) => set(tokens, tokenKey, undefined),
    machineToken(systemId) {
      for (const token of tokens.values()) if (token.systemId === systemId) return copy(token);
      return undefined;
    },

    getMachine: (systemId) => copy(machines.get(systemId)),
    machineByHostname(hostname) {
      for (const machine of machines.values()) if (machine.hostname === hostname) return copy(machine);
      return undefined;
    },
    listMachines: () => [...machines.values()].map(copy),
    machinesByMac(macs) {
      return [...machines.values()].filter((m) => m.macs.some((mac) => macs.includes(mac))).map(copy);
    },
    machinesByHardwareUuid: (uuid) => [...machines.values()].filter((m) => m.hardwareUuid === uuid).map(copy),
    putMachine: (machine) => set(machines, machine.systemId, copy(machine)),
    deleteMachine: (systemId) => set(machines, systemId, undefined),

    resultsOfSet(scriptSetId) {
      return [...results.values()]
        .filter((r) => r.scriptSetId === scriptSetId)
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id))
        .map(copy);
    },
    latestResult(scriptSetId, name) {
      let latest: ScriptResultRecord | undefined;
      for (const r of results.values()) if (r.scriptSetId === scriptSetId && r.name === name && (!latest || r.id > latest.id)) latest = r;
      return copy(latest);
    },
    getResult: (id) => copy(results.get(id)),
    putResult: (result) => set(results, result.id, copy(result)),
    deleteResultsOfScript(name, scriptVersionId) {
      for (const r of [...results.values()]) if (r.name === name && r.scriptVersionId === scriptVersionId) set(results, r.id, undefined);
    },
    nextId(counter) {
      const next = (counters.get(counter) ?? 0) + 1;
      set(counters, counter, next);
      return next;
    },

    getScript: (name) => copy(scripts.get(name)),
    listScripts: () => [...scripts.values()].sort((a, b) => a.id - b.id).map(copy),
    putScript: (script) => set(scripts, script.name, copy(script)),
    deleteScript: (name) => set(scripts, name, undefined),

    useNonce(consumerKey, tokenKey, nonce, nowSeconds) {
      if (nowSeconds >= noncePurgeAt) {
        for (const [key, at] of nonces) if (at < nowSeconds - NONCE_TTL_SECONDS) nonces.delete(key);
        noncePurgeAt = nowSeconds + 60;
      }
      const key = JSON.stringify([consumerKey, tokenKey, nonce]);
      if (nonces.has(key)) return false;
      nonces.set(key, nowSeconds);
      return true;
    },

    addEvent(event) {
      events.push({ ...copy(event), id: events.length + 1 });
    },
    eventsOf: (systemId) => events.filter((e) => e.systemId === systemId).map(copy),

    close() {},
  };
  return store;
}
