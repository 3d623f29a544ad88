/**
 * `npm run report:table2 [-- bench/results/table2-<date>.json]`: writes the README's Table 2
 * section from a result file (the newest one by default).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESULTS_DIR } from './benchResult';
import { replaceTable2Section, table2Section, type Table2Result } from './table2Report';

const newest = readdirSync(RESULTS_DIR)
  .filter((name) => /^table2-.*\.json$/.test(name))
  .sort()
  .at(-1);
const file = process.argv[2] ?? (newest && join(RESULTS_DIR, newest));
if (!file) {
  console.error(
    `no table2 result under ${RESULTS_DIR}: run npm run seal -- --config experiments/table2.json`,
  );
  process.exit(1);
}
const result = JSON.parse(readFileSync(file, 'utf8')) as Table2Result;
const readme = readFileSync('README.md', 'utf8');
writeFileSync('README.md', replaceTable2Section(readme, table2Section(result, file)));
console.log(`README.md: Table 2 from ${file}`);
