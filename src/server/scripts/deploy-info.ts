// The six deploy-info scripts this server hands a deployed machine (docs/protocol.md §5.2,
// docs/design.md D13). They are this project's own: each asks `maas-run-scripts collect --only
// <collector>` for exactly what the built-in collector prints, so a run through any MAAS client
// (the upstream Python one included) uploads the same outputs as our client's built-in collectors.
// The CLI is taken from PATH when it is ours, else downloaded once per run from
// `$MAAS_BASE_URL/MAAS/maas-run-scripts` into `$DOWNLOAD_PATH` (it needs Node >= 20 on the host),
// as upstream's resources script downloads its machine-resources binary. Kept as string constants
// so the single-file build carries them.
import type { DeployInfoScriptName } from '../../resources/types.js';

/** A script of the server's catalogue, with what index.json says about it (docs/protocol.md §5.4). */
export interface CatalogueScript {
  name: DeployInfoScriptName;
  /** Id of the script's current version. */
  versionId: number;
  timeoutSeconds: number;
  /** 0 disabled, 1 instance, 2 any. */
  parallel: 0 | 1 | 2;
  tags: string[];
  body: string;
}

// Defines run_collector: runs `maas-run-scripts collect --only "$1"` from PATH (if it is ours,
// i.e. knows `collect`), else from a copy downloaded atomically into $DOWNLOAD_PATH (scripts
// with `parallel: any` may download at the same time).
const RUN_COLLECTOR = String.raw`run_collector() {
    local collector="$1"
    if command -v maas-run-scripts >/dev/null 2>&1 && maas-run-scripts collect --help >/dev/null 2>&1; then
        maas-run-scripts collect --only "$collector"
        return
    fi
    if ! command -v node >/dev/null 2>&1; then
        echo "maas-run-scripts needs Node.js >= 20 on this host: install nodejs, or put maas-run-scripts on PATH" >&2
        return 1
    fi
    if [ -z "$MAAS_BASE_URL" ] || [ -z "$DOWNLOAD_PATH" ]; then
        echo "MAAS_BASE_URL and DOWNLOAD_PATH must be set (the MAAS client sets them)" >&2
        return 1
    fi
    local cli="$DOWNLOAD_PATH/maas-run-scripts"
    if [ ! -x "$cli" ]; then
        local url="$MAAS_BASE_URL/MAAS/maas-run-scripts"
        local tmp
        mkdir -p "$DOWNLOAD_PATH"
        tmp="$(mktemp "$DOWNLOAD_PATH/.maas-run-scripts.XXXXXX")"
        if command -v wget >/dev/null 2>&1; then
            wget -q -O "$tmp" "$url" || { rm -f "$tmp"; echo "cannot download $url" >&2; return 1; }
        else
            curl -fsS -o "$tmp" "$url" || { rm -f "$tmp"; echo "cannot download $url" >&2; return 1; }
        fi
        chmod 0755 "$tmp"
        mv -f "$tmp" "$cli"
    fi
    "$cli" collect --only "$collector"
}`;

function header(name: string, title: string, description: string, timeout: string, parallelAny: boolean): string {
  return [
    '#!/bin/bash',
    '#',
    `# ${name} - ${title}`,
    '#',
    '# --- Start MAAS 1.0 script metadata ---',
    `# name: ${name}`,
    `# title: ${title}`,
    `# description: ${description}`,
    '# script_type: commissioning',
    ...(parallelAny ? ['# parallel: any'] : []),
    `# timeout: ${timeout}`,
    '# --- End MAAS 1.0 script metadata ---',
    '',
    'set -e',
    'set -o pipefail',
    '',
  ].join('\n');
}

function collectorScript(name: string, title: string, description: string, timeout: string, collector: string): string {
  return `${header(name, title, description, timeout, true)}${RUN_COLLECTOR}\n\nrun_collector ${collector}\n`;
}

const MACHINE_RESOURCES = `${header(
  '20-maas-03-machine-resources',
  'Gather machine resources',
  'Print the machine-resources JSON (CPU, memory, storage, network, PCI, USB, system) and keep a copy in $MAAS_RESOURCES_FILE.',
  '60',
  false,
)}${RUN_COLLECTOR}

if [ -n "$MAAS_RESOURCES_FILE" ]; then
    # When the file belongs to the maas user (a controller running this), write it as that user.
    if [ "$(stat -c %U "$MAAS_RESOURCES_FILE" 2>/dev/null)" = "maas" ] && [ "$(id -un)" != "maas" ]; then
        run_collector resources | sudo -n -u maas tee "$MAAS_RESOURCES_FILE"
    else
        run_collector resources | tee "$MAAS_RESOURCES_FILE"
    fi
else
    run_collector resources
fi
`;

// Reads the JSON 20-maas-03-machine-resources left in $MAAS_RESOURCES_FILE, adds the optional
// storage/machine hint files, prints it indented by two spaces. Uses python3 (always there for
// the upstream client) or node (always there for ours).
const COMMISSIONING = `${header(
  '50-maas-01-commissioning',
  'Machine resources for MAAS',
  'Print the machine-resources JSON gathered by 20-maas-03-machine-resources, with storage and machine hints when present.',
  '60',
  false,
)}
if [ -z "$MAAS_RESOURCES_FILE" ] || [ ! -s "$MAAS_RESOURCES_FILE" ]; then
    echo "no machine resources in \\$MAAS_RESOURCES_FILE ('$MAAS_RESOURCES_FILE'): run 20-maas-03-machine-resources first" >&2
    exit 1
fi

if command -v python3 >/dev/null 2>&1; then
    exec python3 -c '
import json, os, sys
path = os.environ["MAAS_RESOURCES_FILE"]
try:
    with open(path) as stream:
        data = json.load(stream)
    for key, variable in (("storage-extra", "MAAS_STORAGE_CONFIG_FILE"), ("machine-extra", "MAAS_MACHINE_CONFIG_HINTS_FILE")):
        extra = os.environ.get(variable)
        if extra and os.path.exists(extra):
            with open(extra) as stream:
                data[key] = json.load(stream)
except (OSError, ValueError) as error:
    sys.exit("cannot read machine resources: %s" % error)
print(json.dumps(data, indent=2))
'
elif command -v node >/dev/null 2>&1; then
    exec node -e '
const fs = require("node:fs");
try {
  const data = JSON.parse(fs.readFileSync(process.env.MAAS_RESOURCES_FILE, "utf8"));
  for (const [key, variable] of [["storage-extra", "MAAS_STORAGE_CONFIG_FILE"], ["machine-extra", "MAAS_MACHINE_CONFIG_HINTS_FILE"]]) {
    const extra = process.env[variable];
    if (extra && fs.existsSync(extra)) data[key] = JSON.parse(fs.readFileSync(extra, "utf8"));
  }
  console.log(JSON.stringify(data, null, 2));
} catch (error) {
  console.error("cannot read machine resources: " + error.message);
  process.exit(1);
}
'
else
    echo "this script needs python3 or node to read JSON" >&2
    exit 1
fi
`;

const TAGS = ['deploy-info', 'node'];

/** The deploy-info scripts, sorted by name (the order a machine runs them in). */
export const DEPLOY_INFO_CATALOGUE: readonly CatalogueScript[] = [
  { name: '20-maas-03-machine-resources', versionId: 1, timeoutSeconds: 60, parallel: 0, tags: TAGS, body: MACHINE_RESOURCES },
  { name: '50-maas-01-commissioning', versionId: 2, timeoutSeconds: 60, parallel: 0, tags: TAGS, body: COMMISSIONING },
  {
    name: 'maas-list-modaliases',
    versionId: 3,
    timeoutSeconds: 10,
    parallel: 2,
    tags: TAGS,
    body: collectorScript('maas-list-modaliases', 'List modaliases', 'Every modalias under /sys/devices, sorted and unique.', '10', 'modaliases'),
  },
  {
    name: 'maas-lshw',
    versionId: 4,
    timeoutSeconds: 300,
    parallel: 2,
    tags: TAGS,
    body: collectorScript('maas-lshw', 'Gather hardware information', 'Hardware inventory in lshw XML form.', '00:05:00', 'lshw'),
  },
  {
    name: 'maas-serial-ports',
    versionId: 5,
    timeoutSeconds: 10,
    parallel: 2,
    tags: TAGS,
    body: collectorScript('maas-serial-ports', 'List serial ports', 'The device paths behind /sys/class/tty, sorted and unique.', '10', 'serial-ports'),
  },
  {
    name: 'maas-support-info',
    versionId: 6,
    timeoutSeconds: 300,
    parallel: 2,
    tags: TAGS,
    body: collectorScript('maas-support-info', 'Gather support information', 'A text report of kernel, CPU, PCI, USB, network and block devices.', '300', 'support-info'),
  },
];
