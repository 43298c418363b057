// The modalias hook alone (docs/protocol.md §7.9): which modaliases make a machine a switch, and
// which vendor and model tags its DMI modalias gives.
import { describe, expect, it } from 'vitest';
import { tagsFromModaliases } from '../../../src/server/hooks/modaliases.js';

// Modalias lines as /sys/devices gives them on the switches MAAS names.
const TRIDENT2 = 'pci:v000014E4d0000B850sv000014E4sd0000B850bc02sc00i00';
const TOMAHAWK = 'pci:v000014E4d0000B960sv000014E4sd0000B960bc02sc00i00';
const BROADCOM_NIC = 'pci:v000014E4d00001657sv0000103Csd000022BEbc02sc00i00';
const INTEL_NIC = 'pci:v00008086d00001533sv000015D9sd00001533bc02sc00i00';
const WEDGE40_DMI = 'dmi:bvnAmericanMegatrendsInc.:bvrMF1_2A04:bd09/18/2014:svnIntel:pnEPGSVR:pvrTobefilledbyO.E.M.:rvnTobefilledbyO.E.M.:rnTobefilledbyO.E.M.:rvrTobefilledbyO.E.M.:cvnIntel:ct0:cvrTobefilledbyO.E.M.:';
const WEDGE100_DMI = 'dmi:bvnAmericanMegatrendsInc.:bvr36:bd01/01/2017:svnTobefilledbyO.E.M.:pnTobefilledbyO.E.M.:pvrTobefilledbyO.E.M.:rvnTobefilledbyO.E.M.:rnPCOM-B632VG-ECC-FB-ACCTON-D:rvrTobefilledbyO.E.M.:cvnTobefilledbyO.E.M.:ct3:cvrTobefilledbyO.E.M.:';
const MELLANOX_DMI = 'dmi:bvnAmericanMegatrendsInc.:bvr4.6.5:svnMellanoxTechnologiesLtd.:pn"MSN2100-CB2FO":pvrA1:rvnMellanoxTechnologiesLtd:rnVMOD0001:ct17:';
const SERVER_DMI = 'dmi:bvnDellInc.:bvr2.8.2:svnDellInc.:pnPowerEdgeR640:pvr:rvnDellInc.:rn0W23H8:rvrA02:cvnDellInc.:ct23:cvr:';

const lines = (...modaliases: string[]) => `${modaliases.join('\n')}\n`;

describe('tags from modaliases', () => {
  it('tags a Wedge 40 (Trident II, Intel EPGSVR board) as an Accton wedge40 switch', () => {
    expect(tagsFromModaliases([], lines(WEDGE40_DMI, INTEL_NIC, TRIDENT2))).toEqual(['accton', 'bcm-trident2-asic', 'switch', 'wedge40']);
  });

  it('tags a Wedge 100 (Tomahawk, Accton PCOM board) as an Accton wedge100 switch', () => {
    expect(tagsFromModaliases([], lines(TOMAHAWK, WEDGE100_DMI))).toEqual(['accton', 'bcm-tomahawk-asic', 'switch', 'wedge100']);
  });

  it('tags a Mellanox SN2100 by its DMI product name when it carries a recognised ASIC', () => {
    expect(tagsFromModaliases([], lines(MELLANOX_DMI, TRIDENT2))).toEqual(['bcm-trident2-asic', 'mellanox', 'sn2100', 'switch']);
  });

  it('gives only switch and ASIC tags when the DMI data names no known switch vendor', () => {
    expect(tagsFromModaliases([], lines(SERVER_DMI, TOMAHAWK))).toEqual(['bcm-tomahawk-asic', 'switch']);
    expect(tagsFromModaliases([], lines(TOMAHAWK))).toEqual(['bcm-tomahawk-asic', 'switch']);
  });

  it('does not take a server with Broadcom and Intel network cards for a switch, whatever its DMI data', () => {
    expect(tagsFromModaliases([], lines(WEDGE40_DMI, BROADCOM_NIC, INTEL_NIC))).toEqual([]);
  });

  it('removes switch and the ASIC tags that no longer match, keeps vendor, model and unrelated tags', () => {
    const before = ['accton', 'bcm-tomahawk-asic', 'bcm-trident2-asic', 'switch', 'virtual', 'wedge100'];
    expect(tagsFromModaliases(before, lines(SERVER_DMI, INTEL_NIC))).toEqual(['accton', 'virtual', 'wedge100']);
    expect(tagsFromModaliases(before, lines(TRIDENT2))).toEqual(['accton', 'bcm-trident2-asic', 'switch', 'virtual', 'wedge100']);
  });

  it('matches modaliases exactly: a lower-case or truncated ASIC id is not a switch', () => {
    expect(tagsFromModaliases([], lines(TOMAHAWK.toLowerCase()))).toEqual([]);
    expect(tagsFromModaliases([], lines('pci:v000014E4d0000B960'))).toEqual([]);
    expect(tagsFromModaliases([], '')).toEqual([]);
  });
});
