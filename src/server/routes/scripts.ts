// API 2.0 scripts (MAAS's "Node Scripts"): administrators upload, list, read, download and delete
// custom scripts. A commissioning script tagged deploy-info joins every deployed machine's
// deploy-info set (see routes/metadata.ts).
import { apiUser, jsonReply, requestOp, unknownOp } from '../context.js';
import type { Reply, RequestContext } from '../context.js';
import { HttpError, badRequest, formErrors, forbidden } from '../http-error.js';
import { readScriptForm, translateHardwareType, translateScriptType } from '../scripts/script-form.js';
import { allScripts, findScript, isBuiltin, newScriptId, scriptJson } from '../scripts/script-library.js';
import type { ScriptRecord, UserRecord } from '../store.js';
import { parseBool } from '../validation.js';

/** `/MAAS/api/2.0/scripts/`: GET lists, POST creates (admins only). */
export function scriptsCollection(ctx: RequestContext): Reply {
  const op = requestOp(ctx);
  if (ctx.method === 'GET' && op === undefined) return listScripts(ctx);
  if (ctx.method === 'POST' && op === undefined) return createScript(ctx);
  throw unknownOp(ctx);
}

/** `/MAAS/api/2.0/scripts/{name}`: GET reads (op=download: the script itself), DELETE deletes. */
export function scriptResource(ctx: RequestContext, nameOrId: string): Reply {
  const op = requestOp(ctx);
  if (ctx.method === 'GET' && op === undefined) return readScript(ctx, nameOrId);
  if (ctx.method === 'GET' && op === 'download') return downloadScript(ctx, nameOrId);
  if (ctx.method === 'DELETE' && op === undefined) return deleteScript(ctx, nameOrId);
  throw unknownOp(ctx);
}

function adminUser(ctx: RequestContext): UserRecord {
  const user = apiUser(ctx);
  if (!user.isAdmin) throw forbidden('This method is reserved for admin users.');
  return user;
}

function scriptNotFound(): HttpError {
  return new HttpError(404, 'No Script matches the given query.', 'text/plain');
}

function existing(ctx: RequestContext, nameOrId: string): ScriptRecord {
  const script = findScript(ctx.store, nameOrId);
  if (!script) throw scriptNotFound();
  return script;
}

function includeScript(ctx: RequestContext): boolean {
  const value = ctx.url.searchParams.get('include_script');
  return value !== null && value !== '' && parseBool(value) !== false;
}

function createScript(ctx: RequestContext): Reply {
  const user = adminUser(ctx);
  const { store } = ctx;
  const script = store.transaction(() => {
    const read = readScriptForm(ctx.form, (name) => findScript(store, name) !== undefined);
    if ('errors' in read) throw formErrors(read.errors);
    const id = newScriptId(store);
    const record: ScriptRecord = { ...read.fields, id, versionId: id, created: ctx.now().getTime() / 1000 };
    store.putScript(record);
    return record;
  });
  ctx.log(`${user.username} saved script '${script.name}'`);
  return jsonReply(scriptJson(script, false));
}

function listScripts(ctx: RequestContext): Reply {
  apiUser(ctx);
  const query = ctx.url.searchParams;
  let scripts = allScripts(ctx.store);
  const type = query.get('type');
  if (type !== null) {
    const value = translateScriptType(type);
    if (typeof value === 'string') throw badRequest(value);
    scripts = scripts.filter((s) => s.scriptType === value);
  }
  const hardwareType = query.get('hardware_type');
  if (hardwareType !== null) {
    const value = translateHardwareType(hardwareType);
    if (typeof value === 'string') throw badRequest(value);
    scripts = scripts.filter((s) => s.hardwareType === value);
  }
  const filters = query.get('filters');
  if (filters !== null) {
    const wanted = new Set(filters.split(','));
    scripts = scripts.filter((s) => wanted.has(s.name) || s.tags.some((t) => wanted.has(t)));
  }
  const withBody = includeScript(ctx);
  return jsonReply(scripts.map((s) => scriptJson(s, withBody)));
}

function readScript(ctx: RequestContext, nameOrId: string): Reply {
  apiUser(ctx);
  return jsonReply(scriptJson(existing(ctx, nameOrId), includeScript(ctx)));
}

function downloadScript(ctx: RequestContext, nameOrId: string): Reply {
  apiUser(ctx);
  return { status: 200, body: Buffer.from(existing(ctx, nameOrId).body, 'utf8'), contentType: 'application/binary' };
}

function deleteScript(ctx: RequestContext, nameOrId: string): Reply {
  const user = adminUser(ctx);
  const script = existing(ctx, nameOrId);
  if (isBuiltin(script)) throw badRequest('Unable to delete default script');
  // Its results go with it (upstream cascades the deletion), so a machine is not left waiting
  // for a script that no longer exists.
  ctx.store.transaction(() => {
    ctx.store.deleteResultsOfScript(script.name, script.versionId);
    ctx.store.deleteScript(script.name);
  });
  ctx.log(`${user.username} deleted script '${script.name}'`);
  return { status: 204, body: '', contentType: 'text/plain' };
}
