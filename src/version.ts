// The tool's version, kept equal to package.json's (a test checks) so the single-file build needs no package.json.
export const VERSION = '0.1.0';
