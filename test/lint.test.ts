// The lint rule that keeps error handling off message text (eslint.config.js): each way of
// deciding by an error's message inside a catch block is planted in a source file and must be
// reported, while deciding by class or code, and showing the message, must not.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

/** The catch-block findings of the rule for `body` placed in a catch clause of a file at `path`. */
async function findings(body: string, path = 'src/cli/planted.ts'): Promise<number[]> {
  const code = `export function planted(): string {\n  try {\n    return JSON.parse('x') as string;\n  } catch (error) {\n${body}\n  }\n}\n`;
  const [result] = await eslint.lintText(code, { filePath: path });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-syntax').map((m) => m.line);
}

describe('the rule against branching on error messages', () => {
  it.each([
    ['a regular expression tested on the message', `    if (/no such file/.test((error as Error).message)) return 'missing';\n    throw error;`],
    ['a regular expression run on the message', `    const m = /HTTP (\\d+)/.exec((error as Error).message);\n    return m ? m[1]! : '';`],
    ['includes on the message', `    if ((error as Error).message.includes('in use')) return 'taken';\n    throw error;`],
    ['startsWith on the message', `    if ((error as Error).message.startsWith('MAAS_URL')) return 'url';\n    throw error;`],
    ['a prefix replaced off the message', `    return (error as Error).message.replace(/^report-results: /, '');`],
    ['the message split at a marker', `    return (error as Error).message.split(': HTTP')[0]!;`],
    ['the message compared with a string', `    if ((error as Error).message === 'boom') return 'boom';\n    throw error;`],
    ['a switch on the message', `    switch ((error as Error).message) {\n      case 'boom':\n        return 'boom';\n      default:\n        throw error;\n    }`],
  ])('reports %s in a catch block of src/ and collectors/', async (_what, body) => {
    expect(await findings(body)).toHaveLength(1);
    expect(await findings(body, 'collectors/planted.ts')).toHaveLength(1);
  });

  it('leaves alone deciding by class or code, and showing the message to the user', async () => {
    const body = [
      `    if (error instanceof RangeError) return 'range';`,
      `    if ((error as { code?: string }).code === 'MRS_NOT_FOUND_FILE') return 'missing';`,
      `    return \`failed: \${(error as Error).message}\`;`,
    ].join('\n');
    expect(await findings(body)).toEqual([]);
  });
});
