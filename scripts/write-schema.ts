// Writes schema/topology.schema.json from src/topology/schema.ts (the single source). A test checks they agree.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TOPOLOGY_SCHEMA } from '../src/topology/schema';

const out = path.join(__dirname, '..', 'schema', 'topology.schema.json');
fs.writeFileSync(out, `${JSON.stringify(TOPOLOGY_SCHEMA, null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), out)}`);
