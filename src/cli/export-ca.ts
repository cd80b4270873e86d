import type { CommandModule } from 'yargs';
import { exportCa } from '../commands/export-ca';
import { type GlobalArgs, workdirOf } from './common';
import type { Ctx } from './context';

interface ExportCaArgs extends GlobalArgs {
  readonly cluster: string;
  readonly out: string;
}

/** `meshgen export-ca`: the files of a cluster's cacerts, for upload to an external secret store. */
export function exportCaCommand(io: Ctx): CommandModule<GlobalArgs, ExportCaArgs> {
  return {
    command: 'export-ca',
    describe: "Write a cluster's cacerts files (for secrets.provider external-secrets: upload them to the store)",
    builder: (y) =>
      y
        .option('cluster', { type: 'string', demandOption: true, describe: 'Cluster name (or kube context)' })
        .option('out', {
          type: 'string',
          demandOption: true,
          describe: 'Directory to write ca-cert.pem, ca-key.pem (0600), cert-chain.pem, root-cert.pem',
        })
        .example('$0 export-ca --cluster cluster-east-1 --out /tmp/east-1', 'write the four files')
        .example(
          'cd /tmp/east-1 && vault kv put secret/istio/mymesh/cluster-east-1/cacerts ca-cert.pem=@ca-cert.pem ca-key.pem=@ca-key.pem cert-chain.pem=@cert-chain.pem root-cert.pem=@root-cert.pem',
          'upload them where the cacerts ExternalSecret reads (Vault KV shown)',
        ) as never,
    handler: async (args) => {
      const r = exportCa({ workdir: workdirOf(args), cluster: args.cluster, out: args.out });
      for (const f of r.files) io.stdout.write(`wrote  ${f}\n`);
      io.stdout.write(
        `upload them as the properties ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem of ${r.storeKey}, then delete ${args.out} (it holds a private key)\n`,
      );
    },
  };
}
