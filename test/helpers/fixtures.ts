// Where the tests' data lives: test/fixtures inside this repository. Every test, helper and
// benchmark that reads a data file takes its path from here, so nothing outside a clone is read.
import { join } from 'node:path';
import { PROJECT_ROOT } from './cli.js';

/** The repository's test data (one folder per source, each with a README naming it). */
export const FIXTURES = join(PROJECT_ROOT, 'test', 'fixtures');

/** Machine-resources documents from MAAS's own tests, each beside what MAAS derived from it. */
export const MAAS_SAMPLES = join(FIXTURES, 'maas-samples');

/** Captured /sys, /proc and udev trees of machines whose hardware is known. */
export const ZOO = join(FIXTURES, 'zoo');

/** Requests the upstream Python client sent, one folder per scenario. */
export const WIRE_DIR = join(FIXTURES, 'wire');

/** DMTF's Redfish mockups. */
export const REDFISH_MOCKUPS = join(FIXTURES, 'redfish');
