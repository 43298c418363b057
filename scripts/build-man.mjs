// Writes the man page maas-run-scripts(1) from the CLI's own --help output, so the page and the
// program cannot drift apart: the top-level help gives the synopsis and the command list, each
// command's help gives its section. Run after `npm run build`:
//   node scripts/build-man.mjs [--cli FILE] [--output FILE]
// The pure part (help text in, roff out) is exported for the tests.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Splits commander's help text into its parts: usage, description, sections of entries, and the free text after them. */
export function parseHelp(text) {
  const lines = text.replace(/\s+$/, '').split('\n');
  const usage = /^Usage: (.*)$/.exec(lines[0] ?? '')?.[1];
  if (usage === undefined) throw new Error(`not a help text (no "Usage:" line): ${JSON.stringify(lines[0])}`);
  const blocks = [];
  let current = [];
  for (const line of lines.slice(1)) {
    if (line.trim() === '') {
      if (current.length > 0) blocks.push(current);
      current = [];
    } else current.push(line);
  }
  if (current.length > 0) blocks.push(current);

  const help = { usage, description: '', sections: [], after: [] };
  for (const block of blocks) {
    const heading = /^([A-Z][A-Za-z ]*):$/.exec(block[0]);
    if (heading && block.slice(1).every((line) => line.startsWith('  '))) {
      help.sections.push({ title: heading[1], entries: parseEntries(block.slice(1)) });
    } else if (help.sections.length === 0 && help.description === '') {
      help.description = block.map((line) => line.trim()).join(' ');
    } else {
      help.after.push(block);
    }
  }
  return help;
}

// Entries are "  term   description", continued on lines indented to the description column.
function parseEntries(lines) {
  const entries = [];
  for (const line of lines) {
    const entry = /^ {2}(\S.*?)(?: {2,}(\S.*))?$/.exec(line);
    const continued = /^ {4,}\S/.test(line) && entries.length > 0;
    if (continued) {
      const last = entries[entries.length - 1];
      last.description = `${last.description} ${line.trim()}`.trim();
    } else if (entry) entries.push({ term: entry[1], description: entry[2] ?? '' });
  }
  return entries;
}

/** Text made safe for roff: backslashes, hyphens (so they stay ASCII minus signs in options), leading dots and quotes. */
export function roffText(text) {
  const escaped = text.replace(/\\/g, '\\e').replace(/-/g, '\\-');
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

function entryList(entries) {
  return entries.flatMap((entry) => ['.TP', `.B ${roffText(entry.term)}`, roffText(entry.description || '')]);
}

// Free text after the options: prose lines are joined into filled paragraphs; indented lines
// (examples) are kept as they are.
function freeText(blocks) {
  return blocks.flatMap((block) => {
    if (block.every((line) => line.startsWith(' '))) return ['.PP', '.nf', ...block.map(roffText), '.fi'];
    return ['.PP', roffText(block.map((line) => line.trim()).join(' '))];
  });
}

/**
 * The whole page. `top` is the parsed top-level help, `commands` the parsed help of each
 * command in the top-level order; `version` and `date` (YYYY-MM-DD) go into the header.
 */
export function manPage({ top, commands, version, date }) {
  const name = top.usage.split(' ')[0];
  const lines = [
    `.TH ${name.toUpperCase()} 1 "${date}" "${name} ${version}" "User Commands"`,
    '.SH NAME',
    `${roffText(name)} \\- ${roffText(top.description)}`,
    '.SH SYNOPSIS',
    ...commands.map((command) => `.B ${roffText(command.help.usage)}`).flatMap((line) => [line, '.br']),
    '.SH DESCRIPTION',
    roffText(top.description),
  ];
  for (const section of top.sections.filter((s) => s.title !== 'Commands')) {
    lines.push(`.SH ${section.title.toUpperCase()}`, ...entryList(section.entries));
  }
  lines.push('.SH COMMANDS');
  for (const command of commands) {
    lines.push(`.SS ${roffText(command.name)}`, roffText(command.help.description));
    for (const section of command.help.sections) {
      lines.push('.PP', `.I ${roffText(section.title)}`, '.RS', ...entryList(section.entries), '.RE');
    }
    lines.push(...freeText(command.help.after));
  }
  lines.push(
    '.SH FILES',
    '.TP',
    '.I /etc/maas/maas\\-machine\\-creds.yml',
    "the machine's creds file read by the packaged systemd service (mode 0600)",
    '.TP',
    '.I /var/lib/maas\\-run\\-scripts',
    'state directory as root: undelivered results and what was delivered',
    '.TP',
    '.I /lib/systemd/system/maas\\-run\\-scripts.service, maas\\-run\\-scripts.timer',
    'hourly report\\-results at idle priority; installed, not enabled: systemctl enable \\-\\-now maas\\-run\\-scripts.timer',
    '.SH EXIT STATUS',
    '0 on success; 1 when the server refused, failed or could not be reached, or something was not delivered; 2 for bad usage or bad input.',
  );
  return `${lines.join('\n')}\n`;
}

/** Runs the CLI for its help texts and returns the page. */
export function manPageOf(cli, { version, date }) {
  const help = (args) => {
    const run = spawnSync(process.execPath, [cli, ...args, '--help'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '80' } });
    if (run.status !== 0) throw new Error(`${cli} ${args.join(' ')} --help exited with ${run.status}: ${run.stderr}`);
    return parseHelp(run.stdout);
  };
  const top = help([]);
  const names = (top.sections.find((s) => s.title === 'Commands')?.entries ?? []).map((e) => e.term.split(' ')[0]).filter((n) => n !== 'help');
  if (names.length === 0) throw new Error(`${cli} --help lists no commands`);
  return manPage({ top, commands: names.map((name) => ({ name, help: help([name]) })), version, date });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const option = (flag, fallback) => {
    const at = args.indexOf(flag);
    return at >= 0 && args[at + 1] ? args[at + 1] : fallback;
  };
  const { readFileSync } = await import('node:fs');
  const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
  // The date of the last commit keeps the page reproducible; today's date outside a checkout.
  const commitDate = spawnSync('git', ['log', '-1', '--format=%cs'], { encoding: 'utf8' });
  const date = (commitDate.status === 0 && commitDate.stdout.trim()) || new Date().toISOString().slice(0, 10);
  const output = option('--output', 'build/maas-run-scripts.1');
  const page = manPageOf(option('--cli', 'build/maas-run-scripts'), { version, date });
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, page);
}
