// The Node.js version check the single file runs first. Only the running Node exists here, so
// the releases it must refuse are given to the check as version strings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MINIMUM_NODE_VERSION, unsupportedNodeMessage } from '../../src/cli/node-version.js';
import { PROJECT_ROOT } from '../helpers/cli.js';

describe('the Node.js version check', () => {
  it('accepts the oldest supported release, the ones Ubuntu 24.04 and Debian 12 ship, and every later one', () => {
    for (const version of [MINIMUM_NODE_VERSION, '18.19.1', '18.20.4', '18.20.8', '19.0.0', '20.0.0', '20.20.2', '22.1.0', '24.0.0', '100.0.0']) {
      expect(unsupportedNodeMessage(version), version).toBeUndefined();
    }
  });

  it('accepts the Node.js running this test', () => {
    expect(unsupportedNodeMessage(process.versions.node)).toBeUndefined();
  });

  it('refuses older releases in one line naming the release it needs and the one it found', () => {
    for (const version of ['18.18.2', '18.0.0', '17.9.1', '16.20.2', '14.21.3', '12.22.9', '10.19.0', '0.12.18']) {
      const message = unsupportedNodeMessage(version);
      expect(message, version).toBeDefined();
      expect(message!.split('\n')).toHaveLength(1);
      expect(message).toContain('needs Node.js 18.19 or later');
      expect(message).toContain(`this is Node.js ${version}`);
    }
  });

  it('reads a version with a leading v, as process.version spells it', () => {
    expect(unsupportedNodeMessage('v16.20.2')).toContain('this is Node.js 16.20.2');
    expect(unsupportedNodeMessage('v18.19.1')).toBeUndefined();
  });

  it('compares the parts as numbers, not as text', () => {
    expect(unsupportedNodeMessage('18.9.0')).toBeDefined();
    expect(unsupportedNodeMessage('18.100.0')).toBeUndefined();
    expect(unsupportedNodeMessage('9.99.99')).toBeDefined();
  });

  it('asks for the same release as the engines field npm shows at install time', () => {
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const [major, minor] = MINIMUM_NODE_VERSION.split('.');
    expect(pkg.engines.node).toBe(`>=${major}.${minor}`);
  });
});
