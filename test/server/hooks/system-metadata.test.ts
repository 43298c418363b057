// Architecture, OS and DMI metadata rules.
import { describe, expect, it } from 'vitest';
import { deriveArchitecture, deriveOs, parseSystem, ubuntuCodename } from '../../../src/server/hooks/system-metadata.js';

describe('deriveArchitecture', () => {
  it('maps kernel machine names to Debian architectures with the generic sub-architecture', () => {
    const arch = (k: string) => deriveArchitecture({ kernel_architecture: k }, '', undefined);
    expect(['x86_64', 'i686', 'aarch64', 'ppc64le', 's390x', 'mips64'].map(arch)).toEqual(['amd64/generic', 'i386/generic', 'arm64/generic', 'ppc64el/generic', 's390x/generic', 'mips64el/generic']);
  });

  it('refuses kernel architectures MAAS does not know, such as riscv64 and armv7l', () => {
    expect(() => deriveArchitecture({ kernel_architecture: 'riscv64' }, '', undefined)).toThrow(/unsupported kernel architecture 'riscv64'/);
    expect(() => deriveArchitecture({ kernel_architecture: 'armv7l' }, '', undefined)).toThrow(/armv7l/);
  });

  it('uses machine-extra.platform as the sub-architecture', () => {
    expect(deriveArchitecture({ kernel_architecture: 'aarch64' }, 'arm64/generic', { platform: 'xgene-uboot' })).toBe('arm64/xgene-uboot');
  });
});

describe('deriveOs', () => {
  it('stores Ubuntu by codename and other systems as reported, in lower case', () => {
    expect(deriveOs({ os_name: 'Ubuntu', os_version: '24.04' })).toEqual({ osystem: 'ubuntu', distroSeries: 'noble' });
    expect(deriveOs({ os_name: 'ubuntu', os_version: '99.04' })).toEqual({ osystem: 'ubuntu', distroSeries: '99.04' });
    expect(deriveOs({ os_name: 'centos', os_version: '8' })).toEqual({ osystem: 'centos', distroSeries: '8' });
  });

  it('changes nothing unless both name and version are known', () => {
    expect(deriveOs({ os_name: 'debian', os_version: '' })).toBeNull();
    expect(deriveOs({})).toBeNull();
  });

  it('knows Ubuntu codenames given as codenames', () => {
    expect(ubuntuCodename('jammy')).toBe('jammy');
    expect(ubuntuCodename('toString')).toBeUndefined();
  });
});

describe('parseSystem', () => {
  it('deletes keys whose value is empty, 0123456789 or none in any case', () => {
    const facts = parseSystem({ system: { vendor: 'Acme', product: '0123456789', family: 'NONE', version: '', sku: 'None', type: 'physical', chassis: null, motherboard: { vendor: 'Board Co' } } });
    expect(facts.metadata).toMatchObject({ system_vendor: 'Acme', system_product: null, system_family: null, system_version: null, system_sku: null, system_serial: null, chassis_vendor: null, mainboard_vendor: 'Board Co' });
    expect(Object.keys(facts.metadata)).toHaveLength(17);
  });

  it('tags anything but a physical or unknown system type as virtual', () => {
    expect(['physical', '', 'virtual-machine', 'container', 'unknown'].map((type) => parseSystem({ system: { type } }).virtual)).toEqual([false, false, true, true, true]);
  });
});
