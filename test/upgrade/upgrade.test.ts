/**
 * `meshgen upgrade`: the canary upgrade phases rewrite topology.yaml (istio.revisions, istio.tags,
 * istio.gatewayRevision) and nothing else, keep its comments, and refuse the transitions that do not follow.
 * Pure functions on topology text, and the CLI on temporary work directories holding only topology.yaml.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import {
  addRevision,
  finishUpgrade,
  moveGateways,
  moveTag,
  revisionNameFor,
  upgradeStatus,
  WAIT_BEFORE_FINISH,
  WAIT_BEFORE_NEXT,
} from '../../src/commands/upgrade';
import { InputError } from '../../src/errors';
import { parseTopology } from '../../src/topology/load';
import type { Mesh } from '../../src/topology/model';
import { runCli } from '../helpers/cli';
import { hashTree, REPO_ROOT } from '../helpers/workdir';

/** One named revision in the shorthand, a tag, comments above and inside istio:, two contexts (one a remote). */
const SHORTHAND = `# The mesh of the upgrade tests.
mesh_id: mesh-a
# Istio: pinned, one named revision.
istio:
  installer: helm
  # the version every cluster runs
  version: 1.29.2 # pinned by the platform team
  revision: 1-29-2
  tags: {prod: 1-29-2}
  hub: docker.io/istio
# trailing section comment
contexts:
  ctx-a:
    network: net-a
    eastWestGateway: {address: 10.0.0.1}
  ctx-b:
    network: net-a
    role: remote
    primary: ctx-a
`;

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function workdir(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-upgrade-'));
  dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'topology.yaml'), text);
  return dir;
}

const readTopology = (dir: string) => fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8');

/** The fields the phases change. */
function istioOf(text: string): { revisions: Mesh['istio']['revisions']; tags: Record<string, string>; gatewayRevision?: string } {
  const m = parseTopology(text);
  return {
    revisions: m.istio.revisions.map((r) => ({ ...r })),
    tags: Object.fromEntries(m.istio.tags.map((t) => [t.name, t.revision])),
    ...(m.istio.gatewayRevision !== undefined ? { gatewayRevision: m.istio.gatewayRevision } : {}),
  };
}

/** The problems of an InputError thrown by `fn`. */
function refused(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  assert.fail('expected an InputError');
}

describe('revisionNameFor', () => {
  test('dots become dashes, a leading v is dropped (helm, operator; sail: see below)', () => {
    for (const installer of ['helm', 'operator'] as const) {
      assert.equal(revisionNameFor('1.30.3', installer), '1-30-3');
      assert.equal(revisionNameFor('v1.30.3', installer), '1-30-3');
      assert.equal(revisionNameFor('1.30.0-beta.1', installer), '1-30-0-beta-1');
    }
  });
});

describe('phase add (meshgen upgrade --to)', () => {
  test('the shorthand becomes a revisions map with the canary second; gatewayRevision pins the gateways to the current', () => {
    const r = addRevision(SHORTHAND, { to: '1.30.3' });
    assert.equal(r.changed, true);
    assert.deepEqual(istioOf(r.text), {
      revisions: [
        { name: '1-29-2', version: '1.29.2' },
        { name: '1-30-3', version: '1.30.3' },
      ],
      tags: { prod: '1-29-2' },
      gatewayRevision: '1-29-2',
    });
    assert.deepEqual(r.warnings, []);
    assert.equal(r.next, 'meshgen upgrade tag prod');
    // The map stands where version: and revision: stood, and those keys are gone.
    const doc = r.text.split('\n');
    assert.ok(doc.indexOf('  revisions:') > doc.indexOf('  installer: helm') && doc.indexOf('  revisions:') < doc.indexOf('  tags: {prod: 1-29-2}'));
    assert.doesNotMatch(r.text, /^ {2}(version|revision):/m);
  });

  test('comments above and inside istio:, and everything outside istio:, survive byte for byte', () => {
    const r = addRevision(SHORTHAND, { to: '1.30.3' });
    assert.match(r.text, /^# Istio: pinned, one named revision\.\nistio:\n/m);
    assert.match(r.text, /^ {2}# the version every cluster runs\n {2}revisions:\n/m);
    assert.match(r.text, /# pinned by the platform team/);
    const [headOld, tailOld] = [SHORTHAND.slice(0, SHORTHAND.indexOf('istio:')), SHORTHAND.slice(SHORTHAND.indexOf('  hub:'))];
    assert.ok(r.text.startsWith(headOld), r.text);
    assert.ok(r.text.endsWith(tailOld), r.text);
  });

  test('the map form with one entry gets the canary appended; a --revision name is used as given', () => {
    const text = SHORTHAND.replace(
      '  version: 1.29.2 # pinned by the platform team\n  revision: 1-29-2\n',
      '  revisions:\n    stable: {version: 1.29.2}\n',
    ).replace('{prod: 1-29-2}', '{prod: stable, default: stable}');
    const r = addRevision(text, { to: '1.30.3', revision: 'canary' });
    assert.deepEqual(istioOf(r.text).revisions, [
      { name: 'stable', version: '1.29.2' },
      { name: 'canary', version: '1.30.3' },
    ]);
    // A default tag: the gateways follow it, so no gatewayRevision is set.
    assert.equal(istioOf(r.text).gatewayRevision, undefined);
    assert.match(r.text, /^ {4}stable: \{version: 1\.29\.2\}\n {4}canary: \{version: 1\.30\.3\}\n/m);
  });

  test('warns (and adds) on a jump of more than two minor versions, and on a downgrade', () => {
    assert.match(addRevision(SHORTHAND, { to: '1.32.0' }).warnings.join('\n'), /more than 2 minor versions/);
    assert.deepEqual(addRevision(SHORTHAND, { to: '1.31.0' }).warnings, []);
    const down = addRevision(SHORTHAND, { to: '1.28.4' });
    assert.match(down.warnings.join('\n'), /downgrade/);
    assert.equal(istioOf(down.text).revisions[1].name, '1-28-4');
  });

  test('refuses an unrevisioned control plane, explaining the istio-injection webhook', () => {
    const e = refused(() => addRevision(SHORTHAND.replace('  revision: 1-29-2\n', '').replace('  tags: {prod: 1-29-2}\n', ''), { to: '1.30.3' }));
    assert.match(e.message, /unrevisioned/);
    assert.match(e.message, /istio-injection=enabled/);
    assert.match(e.message, /fix: either upgrade in place by changing istio\.version, or move to a named revision first/);
  });

  test('refuses an upgrade under way, naming the next phase', () => {
    const e = refused(() => addRevision(addRevision(SHORTHAND, { to: '1.30.3' }).text, { to: '1.31.0' }));
    assert.match(e.message, /already under way/);
    assert.match(e.message, /next phase is `meshgen upgrade tag prod`/);
  });

  test('refuses the current version, a used revision name, a tag name, a bad name and a non-version', () => {
    assert.match(refused(() => addRevision(SHORTHAND, { to: '1.29.2' })).message, /already runs Istio 1\.29\.2/);
    assert.match(refused(() => addRevision(SHORTHAND, { to: 'v1.29.2' })).message, /already runs Istio 1\.29\.2/);
    assert.match(refused(() => addRevision(SHORTHAND, { to: '1.30.3', revision: '1-29-2' })).message, /is the current revision/);
    assert.match(refused(() => addRevision(SHORTHAND, { to: '1.30.3', revision: 'prod' })).message, /is the name of a tag/);
    assert.match(refused(() => addRevision(SHORTHAND, { to: '1.30.3', revision: 'default' })).message, /cannot be a revision name/);
    assert.match(refused(() => addRevision(SHORTHAND, { to: '1.30.3', revision: 'Canary_1' })).message, /DNS-1123/);
    assert.match(refused(() => addRevision(SHORTHAND, { to: 'latest' })).message, /not an Istio version/);
  });

  test('refuses an ambient mesh (canary revisions need revisioned proxies; ztunnel is not)', () => {
    const ambient = SHORTHAND.replace('  tags: {prod: 1-29-2}\n', '  dataplane: ambient\n').replace('    role: remote\n    primary: ctx-a\n', '');
    parseTopology(ambient); // valid as it stands
    const e = refused(() => addRevision(ambient, { to: '1.30.3' }));
    assert.match(e.message, /ambient/);
    assert.match(e.message, /ztunnel is not revisioned/);
  });
});

describe('phases tag, gateways, finish', () => {
  const added = () => addRevision(SHORTHAND, { to: '1.30.3' }).text;

  test('tag: moves an existing tag to the canary, or creates a new one and says so', () => {
    const r = moveTag(added(), 'prod');
    assert.deepEqual(istioOf(r.text).tags, { prod: '1-30-3' });
    assert.deepEqual(r.changes, ['istio.tags.prod: 1-29-2 -> 1-30-3']);
    const n = moveTag(added(), 'default');
    assert.deepEqual(istioOf(n.text).tags, { default: '1-30-3', prod: '1-29-2' });
    assert.match(n.changes.join('\n'), /new tag, points at 1-30-3/);
  });

  test('tag: a missing tags: map is created after revisions:', () => {
    const noTags = addRevision(SHORTHAND.replace('  tags: {prod: 1-29-2}\n', ''), { to: '1.30.3' }).text;
    const r = moveTag(noTags, 'default');
    assert.deepEqual(istioOf(r.text).tags, { default: '1-30-3' });
    assert.match(r.text, / {4}1-30-3: \{version: 1\.30\.3\}\n {2}tags: \{default: 1-30-3\}\n/);
  });

  test('tag: refuses without an upgrade under way, a tag already on the canary, and a revision name', () => {
    assert.match(refused(() => moveTag(SHORTHAND, 'prod')).message, /no upgrade is under way/);
    assert.match(refused(() => moveTag(moveTag(added(), 'prod').text, 'prod')).message, /already points at the canary 1-30-3/);
    assert.match(refused(() => moveTag(added(), '1-29-2')).message, /is a revision name, not a tag/);
  });

  test('gateways: gatewayRevision from the current revision to the canary; refused when already there', () => {
    const r = moveGateways(added());
    assert.equal(istioOf(r.text).gatewayRevision, '1-30-3');
    assert.match(refused(() => moveGateways(r.text)).message, /already run on the canary/);
    assert.match(refused(() => moveGateways(SHORTHAND)).message, /no upgrade is under way/);
  });

  test('gateways: gateways that follow a tag move with it; nothing changes (exit 0)', () => {
    const withDefault = addRevision(SHORTHAND.replace('{prod: 1-29-2}', '{prod: 1-29-2, default: 1-29-2}'), { to: '1.30.3' }).text;
    assert.equal(istioOf(withDefault).gatewayRevision, undefined);
    const r = moveGateways(withDefault);
    assert.equal(r.changed, false);
    assert.equal(r.text, withDefault);
    assert.match(r.changes.join('\n'), /follow tag default .*move with that tag .*meshgen upgrade tag default/);
    assert.match(moveTag(withDefault, 'default').changes.join('\n'), /east-west gateways follow tag default: they move to 1-30-3 with it/);
  });

  test('finish: refused while a tag or the gateways are on the old revision, naming each and its command', () => {
    const e = refused(() => finishUpgrade(added()));
    assert.equal(e.problems.length, 2);
    assert.match(e.problems[0].message, /tag prod still points at 1-29-2/);
    assert.match(e.problems[0].fix ?? '', /meshgen upgrade tag prod/);
    assert.match(e.problems[1].message, /east-west gateways still run on 1-29-2/);
    assert.match(e.problems[1].fix ?? '', /meshgen upgrade gateways/);
    assert.match(refused(() => finishUpgrade(SHORTHAND)).message, /no upgrade is under way/);
  });

  test('finish: keeps gatewayRevision naming the revision when a default tag exists (dropping it would relabel the gateways)', () => {
    let t = addRevision(SHORTHAND.replace('{prod: 1-29-2}', '{prod: 1-29-2, default: 1-29-2}'), { to: '1.30.3', revision: 'canary' }).text;
    t = t.replace('  tags: {prod: 1-29-2, default: 1-29-2}\n', '  tags: {prod: 1-29-2, default: 1-29-2}\n  gatewayRevision: 1-29-2\n');
    for (const step of [(x: string) => moveTag(x, 'default'), (x: string) => moveTag(x, 'prod'), moveGateways, finishUpgrade]) t = step(t).text;
    assert.deepEqual(istioOf(t), {
      revisions: [{ name: 'canary', version: '1.30.3' }],
      tags: { default: 'canary', prod: 'canary' },
      gatewayRevision: 'canary',
    });
  });
});

describe('the full walk on the CLI: 1.29.2 → add 1.30.3 → tag default → tag prod → gateways → finish', () => {
  test('each phase writes only topology.yaml, with the expected istio: and status', async () => {
    const dir = workdir(SHORTHAND);
    const status = async () => {
      const r = await runCli(['upgrade', '--workdir', dir]);
      assert.equal(r.code, 0, r.stderr);
      const j = await runCli(['upgrade', '--json', '--workdir', dir]);
      assert.equal(j.code, 0, j.stderr);
      return { text: r.stdout, json: JSON.parse(j.stdout) as ReturnType<typeof upgradeStatus> };
    };
    const step = async (args: string[]) => {
      const before = hashTree(dir);
      const r = await runCli([...args, '--workdir', dir]);
      assert.equal(r.code, 0, r.stderr);
      const changed = [...hashTree(dir).entries()].filter(([f, h]) => before.get(f) !== h).map(([f]) => f);
      assert.deepEqual(changed, ['topology.yaml'], 'only topology.yaml is written');
      assert.deepEqual([...hashTree(dir).keys()], ['topology.yaml'], 'no lock or temporary file is left');
      assert.match(r.stdout, /run `npm run synth`, review `meshgen plan`, commit/);
      return r;
    };

    let s = await status();
    assert.equal(s.json.phase, 'stable');
    assert.match(s.text, /phase: stable\nnext: meshgen upgrade --to <version>/);

    const add = await step(['upgrade', '--to', '1.30.3']);
    assert.match(add.stdout, /istio\.version and istio\.revision: replaced by istio\.revisions: 1-29-2 \(Istio 1\.29\.2, current\), 1-30-3/);
    assert.match(add.stdout, /istio\.gatewayRevision: set to 1-29-2/);
    assert.match(add.stdout, /then wait for the following before "meshgen upgrade tag prod":\n.*every cluster synced/);
    assert.deepEqual(istioOf(readTopology(dir)), {
      revisions: [
        { name: '1-29-2', version: '1.29.2' },
        { name: '1-30-3', version: '1.30.3' },
      ],
      tags: { prod: '1-29-2' },
      gatewayRevision: '1-29-2',
    });
    s = await status();
    assert.equal(s.json.phase, 'canary added');
    assert.equal(s.json.next, 'meshgen upgrade tag prod');
    assert.deepEqual(s.json.gateways, { label: '1-29-2', revision: '1-29-2', explicit: true });
    assert.match(s.text, /revisions:\n {2}1-29-2 {2}Istio 1\.29\.2 {2}current\n {2}1-30-3 {2}Istio 1\.30\.3 {2}canary\n/);
    assert.match(s.text, /tags:\n {2}prod -> 1-29-2 {2}\(current\)\n/);
    assert.match(s.text, /east-west gateways: 1-29-2 \(istio\.gatewayRevision\)/);
    assert.match(s.text, /rollout status deploy\/istiod-1-30-3/);
    // Per context, how to see the proxies still on the old revision: pods everywhere, proxy-status on the primary.
    assert.deepEqual(s.json.oldProxies, [
      'kubectl --context ctx-a get pods -A -l istio.io/rev=1-29-2',
      'kubectl --context ctx-b get pods -A -l istio.io/rev=1-29-2',
      'istioctl --context ctx-a proxy-status --revision 1-29-2',
    ]);
    assert.match(s.text, /proxies still on 1-29-2 .*\n {2}kubectl --context ctx-a get pods -A -l istio\.io\/rev=1-29-2\n/);

    const tagDefault = await step(['upgrade', 'tag', 'default']);
    assert.match(tagDefault.stdout, /istio\.tags\.default: new tag, points at 1-30-3/);
    assert.match(tagDefault.stdout, /rollout restart/);
    assert.deepEqual(istioOf(readTopology(dir)).tags, { default: '1-30-3', prod: '1-29-2' });
    s = await status();
    assert.equal(s.json.phase, 'tags moving');
    assert.match(s.text, /phase: tags moving \(1 of 2 on the canary\)\nnext: meshgen upgrade tag prod/);
    assert.match(s.text, /namespaces labelled istio\.io\/rev=default .*\n.*\n? *.*kubectl --context <ctx> -n <namespace> rollout restart deployment/);
    assert.match(s.text, /Argo CD|synced/);

    await step(['upgrade', 'tag', 'prod']);
    assert.deepEqual(istioOf(readTopology(dir)).tags, { default: '1-30-3', prod: '1-30-3' });
    s = await status();
    assert.equal(s.json.phaseText, 'tags moving (2 of 2 on the canary)');
    assert.equal(s.json.next, 'meshgen upgrade gateways');

    await step(['upgrade', 'gateways']);
    assert.equal(istioOf(readTopology(dir)).gatewayRevision, '1-30-3');
    s = await status();
    assert.equal(s.json.phase, 'ready to finish');
    assert.equal(s.json.next, 'meshgen upgrade finish');
    assert.match(s.text, /no proxy left on 1-29-2/);

    const fin = await step(['upgrade', 'finish']);
    assert.match(fin.stdout, /removed 1-29-2 \(Istio 1\.29\.2\); 1-30-3 \(Istio 1\.30\.3\) is the only revision/);
    const end = readTopology(dir);
    // With a default tag the gatewayRevision naming the revision is kept (dropping it would relabel the gateways to "default").
    assert.deepEqual(istioOf(end), {
      revisions: [{ name: '1-30-3', version: '1.30.3' }],
      tags: { default: '1-30-3', prod: '1-30-3' },
      gatewayRevision: '1-30-3',
    });
    assert.match(end, /^ {2}revisions:\n {4}1-30-3: \{version: 1\.30\.3\}\n/m, 'the map form stays, with one entry');
    // Comments and the rest of the file survived the five rewrites.
    assert.ok(end.startsWith('# The mesh of the upgrade tests.\nmesh_id: mesh-a\n# Istio: pinned, one named revision.\nistio:\n'), end);
    assert.match(end, /^ {2}# the version every cluster runs\n {2}revisions:/m);
    assert.ok(end.endsWith(SHORTHAND.slice(SHORTHAND.indexOf('  hub:'))), end);
    s = await status();
    assert.equal(s.json.phase, 'stable');
  });

  test('without tags nor a default tag, finish drops gatewayRevision (the only revision is the default)', () => {
    let t = addRevision(SHORTHAND.replace('  tags: {prod: 1-29-2}\n', ''), { to: '1.30.3' }).text;
    t = moveGateways(t).text;
    t = finishUpgrade(t).text;
    assert.deepEqual(istioOf(t), { revisions: [{ name: '1-30-3', version: '1.30.3' }], tags: {} });
    assert.doesNotMatch(t, /gatewayRevision/);
  });
});

describe('refused transitions on the CLI: exit 2, topology.yaml unchanged byte for byte', () => {
  const added = addRevision(SHORTHAND, { to: '1.30.3' }).text;
  const unrevisioned = SHORTHAND.replace('  revision: 1-29-2\n', '').replace('  tags: {prod: 1-29-2}\n', '');
  const cases: { name: string; text: string; args: string[]; stderr: RegExp }[] = [
    { name: 'add on an unrevisioned control plane', text: unrevisioned, args: ['--to', '1.30.3'], stderr: /unrevisioned.*istio-injection=enabled/ },
    {
      name: 'add while an upgrade is under way',
      text: added,
      args: ['--to', '1.31.0'],
      stderr: /already under way.*next phase is `meshgen upgrade tag prod`/,
    },
    { name: 'add of the current version', text: SHORTHAND, args: ['--to', '1.29.2'], stderr: /already runs Istio 1\.29\.2/ },
    { name: 'add with a used revision name', text: SHORTHAND, args: ['--to', '1.30.3', '--revision', '1-29-2'], stderr: /is the current revision/ },
    { name: 'add with a tag name as revision', text: SHORTHAND, args: ['--to', '1.30.3', '--revision', 'prod'], stderr: /is the name of a tag/ },
    { name: 'tag without an upgrade', text: SHORTHAND, args: ['tag', 'prod'], stderr: /no upgrade is under way/ },
    { name: 'tag already on the canary', text: moveTag(added, 'prod').text, args: ['tag', 'prod'], stderr: /already points at the canary/ },
    { name: 'gateways without an upgrade', text: SHORTHAND, args: ['gateways'], stderr: /no upgrade is under way/ },
    { name: 'finish without an upgrade', text: SHORTHAND, args: ['finish'], stderr: /no upgrade is under way/ },
    {
      name: 'finish with a tag and the gateways on the old revision',
      text: added,
      args: ['finish'],
      stderr: /2 errors:[\s\S]*upgrade tag prod[\s\S]*upgrade gateways/,
    },
    { name: '--to with a phase', text: added, args: ['finish', '--to', '1.31.0'], stderr: /cannot be used with the phase/ },
    { name: 'tag without a name', text: added, args: ['tag'], stderr: /names no tag/ },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const dir = workdir(c.text);
      const r = await runCli(['upgrade', ...c.args, '--workdir', dir]);
      assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr.replace(/\n\s*/g, ' '), c.stderr);
      assert.match(r.stderr, /; fix: /);
      assert.equal(readTopology(dir), c.text, 'topology.yaml unchanged');
      assert.deepEqual([...hashTree(dir).keys()], ['topology.yaml']);
    });
  }

  test('the bundled example (unrevisioned) is refused with the in-place fix', async () => {
    const text = fs.readFileSync(path.join(REPO_ROOT, 'topology.yaml'), 'utf8');
    const dir = workdir(text);
    const r = await runCli(['upgrade', '--to', '1.31.0', '--workdir', dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /upgrade in place by changing istio\.version/);
    assert.equal(readTopology(dir), text);
    const s = await runCli(['upgrade', '--workdir', dir]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /phase: stable \(unrevisioned control plane\)/);
  });
});

describe('the wait texts', () => {
  test('are exported per step and name what to check', () => {
    assert.deepEqual(Object.keys(WAIT_BEFORE_NEXT), ['add', 'tag', 'gateways', 'finish']);
    assert.match(WAIT_BEFORE_NEXT.add.join(' '), /Argo CD Applications Synced\/Healthy, or the Flux Kustomizations Ready/);
    assert.match(WAIT_BEFORE_NEXT.tag.join(' '), /rollout restart/);
    assert.match(WAIT_BEFORE_FINISH.join(' '), /proxy-status --revision <old>/);
    assert.match(WAIT_BEFORE_FINISH.join(' '), /get pods -A -l istio\.io\/rev=<old>/);
  });

  test('status of the example text per phase', () => {
    assert.equal(upgradeStatus(SHORTHAND).phase, 'stable');
    const a = addRevision(SHORTHAND, { to: '1.30.3' }).text;
    assert.equal(upgradeStatus(a).phase, 'canary added');
    assert.equal(upgradeStatus(moveGateways(a).text).phaseText, 'tags moving (0 of 1 on the canary)');
  });
});

test('sail: revisions are named as the Sail Operator names them; the InPlace shorthand is refused, the RevisionBased map goes on', () => {
  assert.equal(revisionNameFor('1.30.3', 'sail'), 'default-v1-30-3');
  assert.equal(revisionNameFor('v1.30.3', 'sail'), 'default-v1-30-3');
  const inPlace = SHORTHAND.replace('installer: helm', 'installer: sail').replace('  tags: {prod: 1-29-2}\n', '');
  const e = refused(() => addRevision(inPlace, { to: '1.30.3' }));
  assert.match(e.message, /InPlace/);
  assert.match(e.message, /revisions: \{default-v1-29-2: \{version: 1\.29\.2\}\}/);
  const revisionBased = SHORTHAND.replace('installer: helm', 'installer: sail')
    .replace('  version: 1.29.2 # pinned by the platform team\n  revision: 1-29-2\n', '  revisions:\n    default-v1-29-2: {version: 1.29.2}\n')
    .replace('tags: {prod: 1-29-2}', 'tags: {prod: default-v1-29-2}');
  const added = addRevision(revisionBased, { to: '1.30.3' });
  assert.deepEqual(istioOf(added.text).revisions, [
    { name: 'default-v1-29-2', version: '1.29.2' },
    { name: 'default-v1-30-3', version: '1.30.3' },
  ]);
});

test('sail finish: the wait says where Sail never prunes the old IstioRevision (EXTERNAL_ISTIOD) and how to delete it', () => {
  const text = SHORTHAND.replace('installer: helm', 'installer: sail')
    .replace(
      '  version: 1.29.2 # pinned by the platform team\n  revision: 1-29-2\n',
      '  revisions:\n    default-v1-29-2: {version: 1.29.2}\n    default-v1-30-3: {version: 1.30.3}\n',
    )
    .replace('tags: {prod: 1-29-2}', 'tags: {prod: default-v1-30-3}\n  gatewayRevision: default-v1-30-3');
  const r = finishUpgrade(text);
  const wait = r.waitFor.join('\n');
  assert.match(wait, /Sail deletes IstioRevision default-v1-29-2 \(its istiod and webhooks\) by itself/);
  assert.doesNotMatch(wait, /Argo CD \/ Flux pruned/);
  // ctx-a serves the remote ctx-b: both run istiod with EXTERNAL_ISTIOD.
  assert.match(wait, /kubectl --context ctx-a delete istiorevision default-v1-29-2/);
  assert.match(wait, /kubectl --context ctx-b delete istiorevision default-v1-29-2/);
  // helm: the old control plane is pruned from dist/, nothing to delete by hand.
  const helm = text.replace('installer: sail', 'installer: helm').replaceAll('default-v1-29-2', '1-29-2').replaceAll('default-v1-30-3', '1-30-3');
  assert.doesNotMatch(finishUpgrade(helm).waitFor.join('\n'), /istiorevision/);
});
