import type { Argv, CommandModule } from 'yargs';
import { ROOT_ROTATION_STEPS, type RootRotationStep, rootRotationStatus, rotateIntermediates, rotateRoot } from '../commands/rotate';
import { InputError, type Problem } from '../errors';
import { streamLogger } from '../log';
import { NEXT_ROOT_CERT_FILE, ROTATION_FILE, type RotationPhase } from '../pki';
import { checkCaOptions, type GlobalArgs, workdirOf } from './common';
import type { Ctx } from './context';

interface RotateArgs extends GlobalArgs {
  readonly cluster?: string[];
  readonly all: boolean;
  readonly 'expiring-within'?: number;
  readonly 'ca-key-size': number;
  readonly 'ca-days': number;
}

interface RotateRootArgs extends GlobalArgs {
  readonly phase?: RootRotationStep;
  readonly 'key-size': number;
  readonly days: number;
  readonly 'ca-key-size': number;
  readonly 'ca-days': number;
}

/** Exported for the README and tests: what to wait for after each step before running the next. */
export const WAIT_BEFORE_NEXT: Record<RootRotationStep, string[]> = {
  add: [
    'every cluster synced (Argo CD Applications Synced/Healthy, or the Flux Kustomizations Ready) and istio-system/cacerts updated;',
    'istiod restarted with ISTIO_MULTIROOT_MESH=true (the new env rolls the Deployment out; with `istioctl install -f` run it yourself)',
    '  and loaded both roots: `kubectl -n istio-system get cm istio-ca-root-cert -o jsonpath="{.data.root-cert\\.pem}"` shows 2 certificates;',
    'every workload (sidecars and gateways, on every cluster) trusts both roots: `istioctl proxy-config secret <pod> -o json`',
    '  shows 2 certificates in ROOTCA. Proxies started before this commit lack PROXY_CONFIG_XDS_AGENT: restart them',
    '  (kubectl rollout restart), or wait one workload-certificate lifetime (24 h by default).',
  ],
  switch: [
    'every cluster synced, and istiod logs "Istiod has detected the newly added intermediate CA" (it reloads cacerts in place);',
    'every workload holds a certificate from the new intermediate: `istioctl proxy-config secret <pod> -o json`, the default',
    '  certificate chain verifies with `openssl verify -CAfile certs/_next/root-cert.pem`. With multi-root on, proxies renew at',
    '  once; otherwise restart them or wait one workload-certificate lifetime (24 h by default). Workloads with old-root',
    '  certificates and new-root certificates trust each other meanwhile: every cluster trusts both roots.',
  ],
  finish: [
    'every cluster synced, istiod reloaded the new root alone (istio-ca-root-cert holds 1 certificate) and every proxy',
    '  shows 1 certificate in ROOTCA. The old root is no longer trusted anywhere.',
  ],
  done: ['every cluster synced: istiod rolls out once more without ISTIO_MULTIROOT_MESH. The rotation is over.'],
};

/** `meshgen rotate`: a new intermediate CA for some clusters, from the same root. */
export function rotateCommand(io: Ctx): CommandModule<GlobalArgs, RotateArgs> {
  return {
    command: 'rotate',
    describe: 'Issue new intermediate CAs (certs/<cluster>/) from the same root; then synth reseals their cacerts',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .option('cluster', { type: 'string', array: true, describe: 'Cluster name or kube context (repeatable)' })
        .option('all', { type: 'boolean', default: false, describe: 'Every cluster that has an intermediate CA' })
        .option('expiring-within', { type: 'number', describe: 'The clusters whose intermediate CA expires within DAYS days' })
        .option('ca-key-size', { type: 'number', default: 4096, describe: 'RSA key size of the new intermediate CAs (pki.keyAlgorithm rsa-4096)' })
        .option('ca-days', { type: 'number', default: 3650, describe: 'Validity (days) of the new intermediate CAs' })
        // Thrown as InputError: main's yargs fail handler rethrows it, so it exits 2 with this message.
        .check((args) => {
          checkRotateArgs({ cluster: args.cluster as unknown[] | undefined, all: args.all === true, expiringWithin: args['expiring-within'] });
          return true;
        })
        .example('$0 rotate --cluster cluster-east-1 && npm run synth', 'new intermediate for one cluster, then reseal its cacerts')
        .example('$0 rotate --expiring-within 30', 'rotate the intermediates that expire within 30 days (as `validate` warns)')
        .example('$0 rotate --all --ca-days 365', 'rotate every intermediate, valid one year') as never,
    handler: async (args) => {
      const workdir = workdirOf(args);
      checkCaOptions({ 'ca-key-size': args['ca-key-size'], 'ca-days': args['ca-days'] });
      const log = streamLogger(io.stderr);
      const r = await rotateIntermediates({
        workdir,
        clusters: args.cluster?.map(String),
        all: args.all,
        expiringWithinDays: args['expiring-within'],
        caKeySize: args['ca-key-size'],
        caDays: args['ca-days'],
        log,
      }).finally(() => log.progress(''));
      for (const s of r.skipped) io.stdout.write(`skipped  ${s.cluster}: ${s.why}\n`);
      if (r.rotated.length === 0) {
        io.stdout.write(
          args['expiring-within'] !== undefined
            ? `nothing to rotate: no intermediate CA expires within ${args['expiring-within']} day(s)\n`
            : 'nothing to rotate\n',
        );
        return;
      }
      for (const x of r.rotated) {
        io.stdout.write(
          x.how === 'completed'
            ? `rotated  ${x.cluster}: completed the interrupted rotation (serial ${x.serialNumber}, valid until ${day(x.notAfter)})\n`
            : `rotated  ${x.cluster}: new intermediate CA, serial ${x.serialNumber}, valid until ${day(x.notAfter)}, signed by ${r.signerFile}\n`,
        );
      }
      if (r.gitignore.length > 0) io.stdout.write(`.gitignore: added ${r.gitignore.join(', ')}\n`);
      const names = r.rotated.map((x) => x.cluster);
      io.stdout.write(
        [
          'next:',
          ...(r.provider === 'external-secrets'
            ? [...uploadSteps(names), `  git add certs .gitignore && git commit -m "Rotate the intermediate CA of ${names.join(', ')}" && git push`]
            : [
                `  npm run synth     # reseals only the cacerts of ${names.join(', ')}`,
                `  git add certs dist sealed .gitignore && git commit -m "Rotate the intermediate CA of ${names.join(', ')}" && git push`,
              ]),
          r.provider === 'external-secrets'
            ? 'Once the External Secrets Operator has refreshed istio-system/cacerts, istiod'
            : 'Once Argo CD / Flux has applied it and the Sealed Secrets controller has updated istio-system/cacerts, istiod',
          'reloads the plugged-in CA without a restart (it watches the mounted files; allow a minute for the kubelet to',
          'refresh them). Workloads get certificates from the new intermediate as they renew theirs (24 h certificates,',
          'renewed half-way, by default); certificates of the previous intermediate stay valid, as both chain to the same root.',
          '',
        ].join('\n'),
      );
    },
  };
}

/** `meshgen rotate-root`: a new root CA, through the multi-root phases add → switch → finish → done. */
export function rotateRootCommand(io: Ctx): CommandModule<GlobalArgs, RotateRootArgs> {
  return {
    command: 'rotate-root',
    describe: 'Rotate the root CA without downtime (multi-root trust): --phase add, switch, finish, done; one synth + commit each',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .option('phase', {
          type: 'string',
          choices: [...ROOT_ROTATION_STEPS],
          describe: 'The step to run; without it, show where the rotation stands',
        })
        .option('key-size', { type: 'number', default: 4096, describe: 'RSA key size of the new root (add; pki.keyAlgorithm rsa-4096)' })
        .option('days', { type: 'number', default: 3650, describe: 'Validity (days) of the new root (add)' })
        .option('ca-key-size', {
          type: 'number',
          default: 4096,
          describe: 'RSA key size of the intermediates issued from the new root (switch; pki.keyAlgorithm rsa-4096)',
        })
        .option('ca-days', { type: 'number', default: 3650, describe: 'Validity (days) of the intermediates issued from the new root (switch)' })
        .example('$0 rotate-root --phase add && npm run synth', '1. every cluster trusts the old and the new root (commit, wait)')
        .example('$0 rotate-root --phase switch && npm run synth', '2. intermediates from the new root (commit, wait)')
        .example('$0 rotate-root --phase finish && npm run synth', '3. only the new root is trusted (commit, wait)')
        .example('$0 rotate-root --phase done && npm run synth', '4. multi-root settings off again (commit)')
        .example('$0 rotate-root', 'show the current phase and the next step') as never,
    handler: async (args) => {
      const workdir = workdirOf(args);
      if (args.phase === undefined) {
        const s = rootRotationStatus(workdir);
        io.stdout.write(
          s.phase === 'none'
            ? 'no root rotation in progress; start one with: meshgen rotate-root --phase add\n'
            : `root rotation in phase ${s.phase} (${ROTATION_FILE}): old root SHA-256 ${s.state?.oldRoot}, new root SHA-256 ${s.state?.newRoot}\n` +
                `next, once the cluster state below is reached: meshgen rotate-root --phase ${s.next}\n${waitText(s.phase)}`,
        );
        return;
      }
      checkCaOptions({ 'key-size': args['key-size'], days: args.days, 'ca-key-size': args['ca-key-size'], 'ca-days': args['ca-days'] });
      const log = streamLogger(io.stderr);
      const r = await rotateRoot({
        workdir,
        step: args.phase,
        keySize: args['key-size'],
        days: args.days,
        caKeySize: args['ca-key-size'],
        caDays: args['ca-days'],
        log,
      }).finally(() => log.progress(''));
      const out: string[] = [];
      switch (r.step) {
        case 'add':
          out.push(
            r.reusedRoot
              ? `reused   the new root of an interrupted run: ${NEXT_ROOT_CERT_FILE} (SHA-256 ${r.newRoot})`
              : `created  ${NEXT_ROOT_CERT_FILE} (SHA-256 ${r.newRoot}) and its key (0600, git-ignored)`,
            `phase add: root-cert.pem of ${list(r.changed)} is now the old root followed by the new one; synth sets`,
            '  values.pilot.env.ISTIO_MULTIROOT_MESH "true" and meshConfig.defaultConfig.proxyMetadata.PROXY_CONFIG_XDS_AGENT "true"',
          );
          break;
        case 'switch':
          out.push(`phase switch: new intermediate CAs from the new root for ${list(r.changed)}; root-cert.pem trusts both roots`);
          if (r.unchanged.length > 0) out.push(`  already issued by the new root: ${r.unchanged.join(', ')}`);
          break;
        case 'finish':
          out.push(
            `phase finish: the new root is now certs/root-cert.pem and certs/root-key.pem; root-cert.pem of ${list(r.changed)} is the new root alone`,
            `  the old root is kept in ${r.retiredDir}/ (certificate, and key 0600 if it was here): nothing trusts it once this`,
            `  phase is synced; destroy its key then. Multi-root stays on until "meshgen rotate-root --phase done".`,
          );
          break;
        case 'done':
          out.push(`done: removed ${ROTATION_FILE}; synth drops ISTIO_MULTIROOT_MESH and PROXY_CONFIG_XDS_AGENT again`);
          break;
      }
      for (const w of r.warnings) io.stderr.write(`warning: ${w}\n`);
      if (r.gitignore.length > 0) out.push(`.gitignore: added ${r.gitignore.join(', ')}`);
      out.push('next:', '  npm run synth');
      if (r.provider === 'external-secrets' && r.step !== 'done') out.push(...uploadSteps(r.clusters));
      out.push(`  git add certs dist sealed .gitignore && git commit -m "Root CA rotation: ${r.step}" && git push`);
      if (r.step !== 'done') {
        const next = ROOT_ROTATION_STEPS[ROOT_ROTATION_STEPS.indexOf(r.step) + 1];
        out.push(`then wait for the following before "meshgen rotate-root --phase ${next}":`);
      } else out.push('then:');
      io.stdout.write(`${out.join('\n')}\n${waitText(r.step)}`);
    },
  };
}

/** Usage problems of `rotate`: exactly one of --cluster, --all, --expiring-within, with sane values. */
function checkRotateArgs(a: { cluster?: unknown[]; all: boolean; expiringWithin?: unknown }): void {
  const fix = 'pass exactly one of --cluster <name or context> (repeatable), --all, --expiring-within <days>';
  const given = [a.cluster !== undefined && '--cluster', a.all && '--all', a.expiringWithin !== undefined && '--expiring-within'].filter(
    (x): x is string => typeof x === 'string',
  );
  const problems: Problem[] = [];
  if (given.length === 0) problems.push({ file: 'command line', message: 'name the intermediates to rotate', fix });
  if (given.length > 1) problems.push({ file: 'command line', message: `${given.join(' and ')} cannot be used together`, fix });
  if (a.cluster !== undefined && (a.cluster.length === 0 || a.cluster.some((c) => String(c).trim() === ''))) {
    problems.push({ file: 'command line', path: '--cluster', message: 'needs a cluster name or kube context', fix: 'e.g. --cluster cluster-east-1' });
  }
  const days = a.expiringWithin;
  if (days !== undefined && (typeof days !== 'number' || !Number.isFinite(days) || days < 0)) {
    problems.push({
      file: 'command line',
      path: '--expiring-within',
      message: `${typeof days === 'number' && Number.isNaN(days) ? 'a non-number' : String(days)} is not a number of days`,
      fix: 'pass 0 or more days, e.g. --expiring-within 30',
    });
  }
  if (problems.length > 0) throw new InputError(problems);
}

/** external-secrets: synth seals nothing; the new cacerts files go to the store the ExternalSecret reads. */
function uploadSteps(clusters: readonly string[]): string[] {
  return [
    '  # secrets.provider is external-secrets: upload the new cacerts files of each cluster to the secret store, e.g.',
    ...clusters.map((c) => `  meshgen export-ca --cluster ${c} --out /tmp/${c}   # then put them under <prefix>/${c}/cacerts; delete /tmp/${c}`),
  ];
}

function waitText(step: RootRotationStep | RotationPhase): string {
  return `${WAIT_BEFORE_NEXT[step].map((l) => `  ${l}`).join('\n')}\n`;
}

function list(clusters: readonly string[]): string {
  return clusters.length === 0 ? 'no cluster (all were up to date)' : clusters.join(', ');
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}
