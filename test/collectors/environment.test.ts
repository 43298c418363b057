import { describe, expect, it } from 'vitest';
import { osIdentity, parseOsRelease, readEnvironment } from '../../collectors/environment.js';
import { createHost } from '../../src/host/host.js';
import { makeRoot, noCommands } from '../helpers/make-root.js';

describe('os-release parsing', () => {
  it('strips quotes from values', () => {
    expect(parseOsRelease('ID="rhel"\nVERSION_ID=\'9.3\'\n# comment\n').get('VERSION_ID')).toBe('9.3');
  });

  it('lower-cases ID and VERSION_ID', () => {
    expect(osIdentity(['ID=Debian\nVERSION_ID="12"\n'], undefined)).toEqual({ name: 'debian', version: '12' });
  });

  it('skips ubuntu-core and goes on to the next file, then to lsb-release', () => {
    expect(osIdentity(['ID=ubuntu-core\n', 'ID=ubuntu\nVERSION_ID=22.04\n'], undefined)).toEqual({ name: 'ubuntu', version: '22.04' });
    expect(osIdentity([undefined, 'ID=ubuntu-core\n'], 'DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=20.04\n')).toEqual({ name: 'ubuntu', version: '20.04' });
  });

  it('gives empty strings when a readable file has no ID, without falling back', () => {
    expect(osIdentity(['NAME=Thing\n'], 'DISTRIB_ID=Ubuntu\n')).toEqual({ name: '', version: '' });
    expect(osIdentity([undefined, undefined], undefined)).toEqual({ name: '', version: '' });
  });
});

describe('readEnvironment', () => {
  it('combines uname and os-release with the fixed server identity', async () => {
    const root = await makeRoot({ 'usr/lib/os-release': 'ID=rocky\nVERSION_ID="9.4"\n' });
    const { value: env } = await readEnvironment(createHost({ root, run: noCommands, uname: { sysname: 'Linux', nodename: 'web01', release: '5.14.0', machine: 'aarch64' } }));
    expect(env).toEqual({
      kernel: 'Linux', kernel_architecture: 'aarch64', kernel_version: '5.14.0', os_name: 'rocky', os_version: '9.4',
      server: 'maas-machine-resources', server_name: 'web01', server_version: '6.9',
    });
  });
});
