import * as path from 'node:path';
import type { CommandModule } from 'yargs';
import { init } from '../commands/init';
import { DEFAULT_KEY_ALGORITHM, KEY_ALGORITHMS, type KeyAlgorithm } from '../pki';
import { type GlobalArgs, rootCaArgsOf } from './common';
import type { Ctx } from './context';

interface InitArgs extends GlobalArgs {
  readonly dir: string;
  readonly 'mesh-id'?: string;
  readonly org?: string;
  readonly from?: string;
  readonly force: boolean;
  readonly git: boolean;
  readonly 'key-algorithm'?: string;
  readonly 'key-size': number;
  readonly days: number;
}

/** `meshgen init <dir>`: a new GitOps repository for one mesh, depending on meshgen. */
export function initCommand(io: Ctx): CommandModule<GlobalArgs, InitArgs> {
  return {
    command: 'init <dir>',
    describe: 'Start your own mesh: a new GitOps repository (package.json depending on meshgen, topology.yaml, root CA, CI, git)',
    builder: (y) =>
      y
        .positional('dir', { type: 'string', describe: 'Directory of the new repository (created; must be empty unless --force)' })
        .option('mesh-id', { type: 'string', describe: 'Mesh ID (or env MESH_ID)' })
        .option('org', { type: 'string', describe: 'Organisation of the CA certificates (or env ORG_NAME)' })
        .option('from', {
          type: 'string',
          describe: 'Where the repository gets meshgen: a version or range, a git URL, or the path of a meshgen checkout',
          defaultDescription: '^<this meshgen version>',
        })
        .option('force', { type: 'boolean', default: false, describe: 'Scaffold into a directory that is not empty (existing files are kept)' })
        .option('git', { type: 'boolean', default: true, describe: 'git init and a first commit without private keys (--no-git to skip)' })
        .option('key-algorithm', {
          type: 'string',
          choices: [...KEY_ALGORITHMS],
          describe: `Key algorithm of the root CA, written as pki.keyAlgorithm for the intermediates [default: ${DEFAULT_KEY_ALGORITHM}]`,
        })
        .option('key-size', { type: 'number', default: 4096, describe: 'RSA key size of the root CA (rsa-4096)' })
        .option('days', { type: 'number', default: 3650, describe: 'Validity of the root CA in days' })
        .example('$0 init ../mymesh --mesh-id mymesh --org example.com', 'a new repository next to this one, depending on this meshgen version')
        .example(
          '$0 init mymesh --mesh-id mymesh --org example.com --from git+https://github.com/example/meshgen.git#v0.1.0',
          'the same, taking meshgen from a git tag',
        )
        .example('$0 init /tmp/try --mesh-id try --org example.com --from .', 'from a local meshgen checkout (this machine only)') as never,
    handler: async (args) => {
      const { meshId, org } = rootCaArgsOf(args);
      // <dir> is relative to --workdir (default: the current directory), like every path meshgen is given.
      const dir = path.resolve(args.workdir, args.dir);
      const r = await init({
        dir,
        meshId,
        org,
        from: args.from,
        force: args.force,
        git: args.git,
        keySize: args['key-size'],
        days: args.days,
        keyAlgorithm: args['key-algorithm'] as KeyAlgorithm | undefined,
      });
      const rel = path.relative(process.cwd(), r.dir);
      const shown = rel === '' ? '.' : rel.startsWith('..') ? r.dir : rel;
      io.stdout.write(`meshgen init: the mesh ${meshId} in ${r.dir} (meshgen ${r.dependency})\n`);
      for (const f of r.created) io.stdout.write(`created  ${f}\n`);
      for (const f of r.kept) io.stdout.write(`kept     ${f} (exists)\n`);
      io.stdout.write(`${r.git}\n`);
      for (const w of r.warnings) io.stderr.write(`warning: ${w}\n`);
      io.stdout.write(
        [
          'next:',
          `  cd ${shown.includes(' ') ? JSON.stringify(shown) : shown}`,
          '  npm install              # installs meshgen; commit package-lock.json (CI runs npm ci)',
          '  $EDITOR topology.yaml    # list your clusters and their networks',
          '  npm run synth            # then commit and push; see README.md',
          '',
        ].join('\n'),
      );
    },
  };
}
