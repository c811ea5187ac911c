// Writes every dashboard as <out>/<folder>/<uid>.json (the files the chart ships) and, for the schema
// check, <out>/.check/<uid>.ts declaring each JSON `satisfies Dashboard` (tsc --strict, Grafana's own
// dashboard type). Usage: node out/main.js OUT_DIR
import * as fs from 'fs';
import * as path from 'path';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { flowDashboards } from './flows';
import { metricsDashboards } from './metrics';

const out = process.argv[2];
if (!out) {
  console.error('usage: node out/main.js OUT_DIR');
  process.exit(2);
}
const checks = path.join(out, '.check');
fs.mkdirSync(checks, { recursive: true });
// The SDK (built for Grafana 11.6) fills the interval variables' defaults (auto, auto_min,
// auto_count) into every variable; Grafana ignores them elsewhere and its dashboard schema (13.x) no
// longer lists them on query variables, so they are dropped there.
function withoutIntervalDefaults(d: Dashboard): Dashboard {
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'interval') {
      const loose = v as unknown as Record<string, unknown>;
      delete loose.auto;
      delete loose.auto_min;
      delete loose.auto_count;
    }
  }
  return d;
}

for (const [folder, builders] of [['metrics', metricsDashboards], ['flows', flowDashboards]] as const) {
  fs.mkdirSync(path.join(out, folder), { recursive: true });
  for (const b of builders) {
    const d = withoutIntervalDefaults(b.build());
    const json = JSON.stringify(d, null, 2) + '\n';
    fs.writeFileSync(path.join(out, folder, `${d.uid}.json`), json);
    fs.writeFileSync(
      path.join(checks, `${d.uid}.ts`),
      `import type { Dashboard } from '@grafana/schema';\nexport const dashboard = ${json.trimEnd()} satisfies Dashboard;\n`,
    );
  }
}
