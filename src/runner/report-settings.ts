// Where a report run sends its results and as whom: the metadata URL and machine credentials,
// resolved as upstream does (docs/protocol.md §1.5) from a creds file and the flags that replace
// its parts. Shared by report-results, register-machine and redfish-report.
import { UsageError } from '../errors.js';
import { parseCredentials } from '../maas/api-key.js';
import { readCredsFile } from '../maas/creds-file.js';
import type { Credentials } from '../maas/types.js';

/** Resolved settings of a run. */
export interface ReportSettings {
  metadataUrl: string;
  credentials: Credentials;
  /** The creds file's endpoint, when there is one (it names the machine's state). */
  endpoint?: string;
}

/** Where the settings come from: a creds file, and flags that win over it. */
export interface ReportSources {
  /** A creds file: `reporting: maas: {...}` or cloud-init's `datasource: MAAS: {...}`. */
  config?: string;
  /** "ck:tk:ts[:cs]"; replaces every credential of the config file. */
  machineToken?: string;
  /** Replaces the config's endpoint; only its scheme and host[:port] are used. */
  metadataUrl?: string;
}

/** Resolves URL and credentials as upstream does (docs/protocol.md §1.5): flags win over the config file. */
export async function resolveReportSettings(sources: ReportSources): Promise<ReportSettings> {
  const creds = sources.config !== undefined ? await readCredsFile(sources.config) : undefined;
  const credentials = sources.machineToken !== undefined ? parseCredentials(sources.machineToken, '--machine-token') : creds?.credentials;
  const metadataUrl = sources.metadataUrl ?? creds?.endpoint;
  if (metadataUrl === undefined) {
    throw new UsageError('No MAAS URL set: pass --config FILE (a creds file written by register-machine or get-machine-token) or --metadata-url URL');
  }
  if (credentials === undefined) {
    throw new UsageError('No machine credentials: pass --config FILE (a creds file written by register-machine or get-machine-token) or --machine-token TOKEN');
  }
  return { metadataUrl, credentials, ...(creds ? { endpoint: creds.endpoint } : {}) };
}
