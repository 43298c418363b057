// MAAS's hook on the output of `maas-list-modaliases` (docs/protocol.md §7.9): a machine with a
// Broadcom switch ASIC on its PCI bus is tagged `switch` plus the ASIC's tag and, when its DMI
// modalias names them, the switch vendor and model; without such an ASIC those tags go.

/** The tag every machine with a recognised switch ASIC gets. */
export const SWITCH_TAG = 'switch';

/** Switch ASICs recognised by PCI modalias (vendor 14E4 is Broadcom), with the tag each gives. */
export const SWITCH_ASICS: readonly { tag: string; modalias: string }[] = [
  // StrataXGS "Trident II" (seen on Wedge 40 switches).
  { tag: 'bcm-trident2-asic', modalias: 'pci:v000014E4d0000B850sv*sd*bc*sc*i*' },
  // StrataXGS "Tomahawk" (seen on Wedge 100 switches).
  { tag: 'bcm-tomahawk-asic', modalias: 'pci:v000014E4d0000B960sv*sd*bc*sc*i*' },
];

/**
 * The machine's tags after a modalias report (one modalias per line). As upstream does, vendor
 * and model tags are only ever added: a later report without a switch ASIC removes `switch` and
 * the ASIC tags but leaves them.
 */
export function tagsFromModaliases(tags: readonly string[], modaliasList: string): string[] {
  const modaliases = modaliasList.split(/\r?\n/).filter((line) => line !== '');
  const next = new Set(tags);
  const found = SWITCH_ASICS.filter((asic) => {
    const pattern = globPattern(asic.modalias);
    return modaliases.some((m) => pattern.test(m));
  });
  if (found.length > 0) {
    next.add(SWITCH_TAG);
    for (const asic of found) next.add(asic.tag);
    const { vendor, model } = switchVendorModel(dmiFields(modaliases));
    if (vendor) next.add(vendor);
    if (model) next.add(model);
  } else {
    next.delete(SWITCH_TAG);
  }
  for (const asic of SWITCH_ASICS) if (!found.includes(asic)) next.delete(asic.tag);
  return [...next].sort();
}

// A shell-style glob (`*` any run, `?` one character), matched against the whole string and
// case-sensitively, as Python's fnmatch does on Linux.
function globPattern(glob: string): RegExp {
  const body = [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 's');
}

// The fields of the first `dmi:` modalias, each still carrying its kernel prefix (svn = system
// vendor, pn = product name, rn = board name, …).
function dmiFields(modaliases: readonly string[]): Set<string> {
  const dmi = modaliases.find((m) => m.startsWith('dmi:'));
  return new Set(dmi ? dmi.split(':').slice(1).filter((field) => field !== '') : []);
}

/** The switch vendor and model tags MAAS derives from DMI modalias fields, when it knows them. */
export function switchVendorModel(dmi: ReadonlySet<string>): { vendor?: string; model?: string } {
  const has = (...fields: string[]) => fields.every((f) => dmi.has(f));
  const wedge40 = has('pnEPGSVR') || has('pnWedge-AC-F20-001329');
  const wedge100Board = has('rnPCOM-B632VG-ECC-FB-ACCTON-D');
  if (has('svnIntel', 'pnEPGSVR') || has('svnJoytech', 'pnWedge-AC-F20-001329')) {
    return { vendor: 'accton', model: 'wedge40' };
  }
  if (has('svnMellanoxTechnologiesLtd.')) {
    return has('pn"MSN2100-CB2FO"') ? { vendor: 'mellanox', model: 'sn2100' } : { vendor: 'mellanox' };
  }
  if (has('svnTobefilledbyO.E.M.') && wedge100Board) {
    if (wedge40) return { vendor: 'accton', model: 'wedge40' };
    return has('pnTobefilledbyO.E.M.') ? { vendor: 'accton', model: 'wedge100' } : { vendor: 'accton' };
  }
  return {};
}
