// The oldest Node.js the tool runs on, and the one-line refusal for anything older. The single
// file runs this before anything else (scripts/build-bundle.mjs puts it first): older releases
// lack APIs that the tool and its dependencies call while loading, and would otherwise fail with
// a stack trace that does not say what to do. It imports nothing and keeps to syntax that old
// releases parse, since it runs on whatever node a host has. (The npm package's bin cannot get
// this far on an old release: Node before 18.19 refuses an extensionless ES module file itself.
// npm warns about the package's `engines` at install time instead.)

/** The oldest Node.js release the tool runs on (Ubuntu 24.04 ships 18.19.1; the Node 18 test runs that release). */
export const MINIMUM_NODE_VERSION = '18.19.0';

// "18.19.1" -> [18, 19, 1]; a missing or odd part counts as 0.
function parts(version: string): number[] {
  const numbers = version.replace(/^v/, '').split('.');
  const out: number[] = [];
  for (let i = 0; i < 3; i++) {
    const n = parseInt(numbers[i] || '0', 10);
    out.push(isNaN(n) ? 0 : n);
  }
  return out;
}

/**
 * The message refusing Node `version` (as `process.versions.node` gives it), or undefined when
 * that release is new enough.
 */
export function unsupportedNodeMessage(version: string): string | undefined {
  const have = parts(version);
  const need = parts(MINIMUM_NODE_VERSION);
  for (let i = 0; i < 3; i++) {
    if (have[i]! > need[i]!) return undefined;
    if (have[i]! < need[i]!) {
      return `maas-run-scripts needs Node.js ${need[0]}.${need[1]} or later, and this is Node.js ${version.replace(/^v/, '')}: install a newer Node.js, or run the file with one (/path/to/node maas-run-scripts ...)`;
    }
  }
  return undefined;
}

/** Exits with the refusal when the running Node.js is too old; returns otherwise. */
export function exitIfNodeTooOld(): void {
  const message = unsupportedNodeMessage(process.versions.node);
  if (message === undefined) return;
  process.stderr.write(message + '\n');
  process.exit(1);
}
