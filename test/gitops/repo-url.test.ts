/**
 * `gitops.repoURL`: synth never guesses it (it reads no Git: CI and a laptop agree) but warns once when it is missing,
 * since no Argo CD ApplicationSet can be written; `meshgen prep` fills it from `git remote get-url origin` when that is
 * an https or ssh URL without credentials.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'yaml';
import { repoUrlProblem } from '../../src/git-remote';
import { NO_REPO_URL_WARNING } from '../../src/gitops/entry-points';
import { runCli } from '../helpers/cli';
import { makeMeshWorkdir, synthIn } from '../helpers/mesh-gen';

const GIT = spawnSync('git', ['--version'], { stdio: 'ignore' }).error === undefined ? false : 'git is not installed';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'meshgen-repo-url-'));
  dirs.push(d);
  return d;
}

const SPEC = {
  meshId: 'm',
  clusters: [
    { context: 'a', cluster: 'a', network: 'n1' },
    { context: 'b', cluster: 'b', network: 'n1' },
  ],
};

test('synth without gitops.repoURL warns once with the fix and writes no ApplicationSet; with it, no warning', async () => {
  const dir = await makeMeshWorkdir(SPEC, { tokens: true });
  dirs.push(dir);
  const r = await synthIn(dir);
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
  assert.deepEqual(warnings, [`warning: ${NO_REPO_URL_WARNING}`]);
  assert.match(
    NO_REPO_URL_WARNING,
    /^no gitops\.repoURL in topology\.yaml: no Argo CD ApplicationSet is written .*set gitops\.repoURL .*git remote get-url origin/,
  );
  assert.ok(!fs.existsSync(path.join(dir, 'dist', 'argocd')));

  const withUrl = await makeMeshWorkdir({ ...SPEC, repoURL: 'https://git.example.com/mesh.git' }, { tokens: true });
  dirs.push(withUrl);
  const s = await synthIn(withUrl);
  assert.equal(s.code, 0, s.stderr);
  assert.doesNotMatch(s.stderr, /warning/);
  assert.ok(fs.existsSync(path.join(withUrl, 'dist', 'argocd', 'applicationset.yaml')));
});

test('repoUrlProblem: https and ssh URLs without credentials are taken; tokens, http, git://, file and paths are not', () => {
  for (const ok of [
    'https://github.com/example/mesh.git',
    'https://gitlab.example.com:8443/group/sub/mesh',
    'ssh://git@github.com/example/mesh.git',
    'ssh://git@git.example.com:2222/example/mesh.git',
    'git@github.com:example/mesh.git',
  ]) {
    assert.equal(repoUrlProblem(ok), undefined, ok);
  }
  for (const [bad, why] of [
    ['https://x-access-token:ghp_secret@github.com/example/mesh.git', /user name or token/],
    ['https://ghp_secret@github.com/example/mesh.git', /user name or token/],
    ['ssh://git:secret@github.com/example/mesh.git', /password/],
    ['http://github.com/example/mesh.git', /http:\/\/ URL; Argo CD needs an https/],
    ['git://github.com/example/mesh.git', /git:\/\/ URL/],
    ['file:///srv/git/mesh.git', /file:\/\/ URL/],
    ['/srv/git/mesh.git', /neither an https/],
    ['../mesh.git', /neither an https/],
    ['', /empty/],
  ] as const) {
    const problem = repoUrlProblem(bad);
    assert.match(problem ?? '', why, bad);
    assert.doesNotMatch(problem ?? '', /secret/, 'the message never repeats a credential');
  }
});

test('prep fills gitops.repoURL (and gitops.path in a subdirectory) from origin; a URL with a token is not copied', { skip: GIT }, async () => {
  const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-C', cwd, ...args], { stdio: 'ignore' });
  const prep = async (dir: string) => {
    const r = await runCli(['prep', '--mesh-id', 'm', '--org', 'o', '--key-algorithm', 'ecdsa-p256', '--workdir', dir]);
    assert.equal(r.code, 0, r.stderr);
    return { r, topology: fs.readFileSync(path.join(dir, 'topology.yaml'), 'utf8') };
  };

  // At the top of the repository: repoURL only (gitops.path stays the default dist).
  const top = tmp();
  git(top, 'init', '-q');
  git(top, 'remote', 'add', 'origin', 'git@github.com:example/mesh.git');
  const a = await prep(top);
  assert.deepEqual(parse(a.topology).gitops, { repoURL: 'git@github.com:example/mesh.git' });
  assert.match(a.r.stderr, /note: topology\.yaml: gitops\.repoURL is git@github\.com:example\/mesh\.git \(git remote get-url origin\)/);

  // In a subdirectory: dist/ is <subdir>/dist inside the repository.
  const sub = path.join(top, 'deploy', 'mesh');
  fs.mkdirSync(sub, { recursive: true });
  const b = await prep(sub);
  assert.deepEqual(parse(b.topology).gitops, { repoURL: 'git@github.com:example/mesh.git', path: 'deploy/mesh/dist' });

  // A URL carrying a token: not copied, not printed.
  const tokened = tmp();
  git(tokened, 'init', '-q');
  git(tokened, 'remote', 'add', 'origin', 'https://x-access-token:ghp_secret@github.com/example/mesh.git');
  const c = await prep(tokened);
  assert.equal(parse(c.topology).gitops, undefined);
  assert.match(c.topology, /^# gitops:\n# {3}repoURL: https:\/\/github\.com\/<owner>\/<repo>\.git$/m);
  assert.match(
    c.r.stderr,
    /note: topology\.yaml: the URL of git remote origin was not copied into gitops\.repoURL \(it carries a user name or token/,
  );
  assert.doesNotMatch(c.r.stderr + c.r.stdout + c.topology, /ghp_secret/);

  // Not a Git work tree: the commented hint, no note.
  const plain = tmp();
  const d = await prep(plain);
  assert.equal(parse(d.topology).gitops, undefined);
  assert.doesNotMatch(d.r.stderr, /note:/);
});
