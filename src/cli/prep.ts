import type { CommandModule } from 'yargs';
import { prep } from '../commands/prep';
import { DEFAULT_KEY_ALGORITHM, KEY_ALGORITHMS, type KeyAlgorithm } from '../pki';
import { type GlobalArgs, rootCaArgsOf, workdirOf } from './common';
import type { Ctx } from './context';

interface PrepArgs extends GlobalArgs {
  readonly 'mesh-id'?: string;
  readonly org?: string;
  readonly force: boolean;
  readonly 'key-algorithm'?: KeyAlgorithm;
  readonly 'key-size': number;
  readonly days: number;
}

/** `meshgen prep`: root CA, base.yaml, topology.yaml and .gitignore, each only where absent. */
export function prepCommand(io: Ctx): CommandModule<GlobalArgs, PrepArgs> {
  return {
    command: 'prep',
    describe: 'Create the root CA, base.yaml, topology.yaml and .gitignore lines (only what is absent)',
    builder: (y) =>
      y
        .option('mesh-id', { type: 'string', describe: 'Mesh ID (or env MESH_ID)' })
        .option('org', { type: 'string', describe: 'Organisation of the CA certificates (or env ORG_NAME)' })
        .option('force', { type: 'boolean', default: false, describe: 'Replace an existing root CA (every intermediate must then be reissued)' })
        .option('key-algorithm', {
          type: 'string',
          choices: [...KEY_ALGORITHMS],
          describe: `Key algorithm of the root CA, also written to a new topology.yaml as pki.keyAlgorithm (intermediates) [default: pki.keyAlgorithm of topology.yaml, else ${DEFAULT_KEY_ALGORITHM}]`,
        })
        .option('key-size', { type: 'number', default: 4096, describe: 'RSA key size of the root CA (rsa-4096)' })
        .option('days', { type: 'number', default: 3650, describe: 'Validity of the root CA in days' })
        .example('$0 prep --mesh-id mymesh --org example.com', 'start a mesh in the current directory')
        .example(
          '$0 prep --mesh-id mymesh --org example.com --key-algorithm ecdsa-p256',
          'ECDSA P-256 CA keys: a first synth of hundreds of clusters in seconds',
        )
        .example('MESH_ID=mymesh ORG_NAME=example.com $0 prep', 'the same, with the environment variables of the original setup-mesh.sh') as never,
    handler: async (args) => {
      const workdir = workdirOf(args);
      const { meshId, org } = rootCaArgsOf(args);
      const result = await prep({
        workdir,
        meshId,
        org,
        force: args.force,
        keyAlgorithm: args['key-algorithm'],
        keySize: args['key-size'],
        days: args.days,
      });
      for (const f of result.created) io.stdout.write(`created  ${f}\n`);
      for (const f of result.kept) io.stdout.write(`kept     ${f} (exists)\n`);
      for (const w of result.warnings) io.stderr.write(`warning: ${w}\n`);
      for (const n of result.notes) io.stderr.write(`note: ${n}\n`);
      if (result.created.length > 0) io.stdout.write('next: list your clusters in topology.yaml, then run `meshgen synth`\n');
    },
  };
}
