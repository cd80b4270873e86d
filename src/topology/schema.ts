/**
 * The JSON Schema of topology.yaml: the one source for validation, editor completion
 * (`schema/topology.schema.json` is written from it by `npm run schema`) and the README's reference.
 *
 * Only the subset of JSON Schema that `validate.ts` understands is used: type, properties, required,
 * additionalProperties, propertyNames, enum, pattern, minLength, maxLength, items, description, default.
 */

import { DEFAULT_KEY_ALGORITHM, KEY_ALGORITHMS } from '../pki/keys';

/** A DNS-1123 label: what Kubernetes requires of names used in object names and directories. */
export const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** A DNS-1123 subdomain: Kubernetes object names. */
export const DNS1123_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** A Kubernetes label value (networks end up in `topology.istio.io/network`). */
export const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';

export interface SchemaNode {
  readonly type?: 'object' | 'string' | 'boolean' | 'integer' | 'array';
  readonly description?: string;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | SchemaNode;
  readonly propertyNames?: SchemaNode;
  readonly enum?: readonly (string | boolean | number)[];
  readonly pattern?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly items?: SchemaNode;
  readonly default?: unknown;
  /** How to fix a value that does not match `pattern` (meshgen extension; editors ignore it). */
  readonly 'x-fix'?: string;
}

const SECRET_STORE: SchemaNode = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    kind: { type: 'string', enum: ['ClusterSecretStore', 'SecretStore'], default: 'ClusterSecretStore', description: 'Kind of the store.' },
    name: {
      type: 'string',
      maxLength: 253,
      pattern: DNS1123_SUBDOMAIN,
      description: 'Name of the store.',
      'x-fix': 'use the name of the store object (a DNS-1123 subdomain)',
    },
  },
};

const eastWestGateway: SchemaNode = {
  type: 'object',
  description: 'The east-west gateway of this cluster.',
  additionalProperties: false,
  properties: {
    address: {
      type: 'string',
      minLength: 1,
      maxLength: 253,
      pattern: '^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$',
      description: 'Address (IP or DNS name) at which remote clusters reach istiod through this gateway.',
      'x-fix': 'use the IP address or DNS name of the east-west gateway (no scheme, no port)',
    },
    serviceType: {
      type: 'string',
      enum: ['LoadBalancer', 'NodePort', 'ClusterIP'],
      default: 'LoadBalancer',
      description: 'Kubernetes Service type of the east-west gateway.',
    },
  },
};

const context: SchemaNode = {
  type: 'object',
  description: 'One cluster of the mesh, keyed by its kube context name.',
  additionalProperties: false,
  required: ['network'],
  properties: {
    network: {
      type: 'string',
      minLength: 1,
      maxLength: 63,
      pattern: LABEL_VALUE,
      description: 'The Istio network of this cluster (label `topology.istio.io/network`).',
      'x-fix': 'use letters, digits, "-", "_" or "." (at most 63), starting and ending with a letter or digit',
    },
    cluster: {
      type: 'string',
      minLength: 1,
      maxLength: 63,
      pattern: DNS1123_LABEL,
      description:
        'Cluster name: Istio `clusterName`, output directory and remote-secret key. Default: the kubeconfig cluster recorded by `meshgen discover`, else the context name.',
      'x-fix': 'use a DNS-1123 label: lowercase letters, digits and "-", at most 63, starting and ending with a letter or digit',
    },
    role: {
      type: 'string',
      enum: ['primary', 'remote'],
      default: 'primary',
      description: 'primary runs istiod; remote is managed by the istiod of `primary`.',
    },
    primary: { type: 'string', minLength: 1, description: 'For a remote: the context whose istiod manages this cluster.' },
    server: {
      type: 'string',
      pattern: '^https://[^\\s]+$',
      description: "The cluster's API server URL, written into the remote secrets other clusters hold.",
      'x-fix': 'use the https:// URL of the API server as in your kubeconfig (or run `meshgen discover`)',
    },
    certificateAuthorityData: {
      type: 'string',
      minLength: 1,
      pattern: '^[A-Za-z0-9+/=\\s]+$',
      description: "Base64 of the API server's CA certificate (PEM), as `certificate-authority-data` in a kubeconfig.",
      'x-fix': 'copy certificate-authority-data from your kubeconfig (or run `meshgen discover`)',
    },
    eastWestGateway,
    secretStore: { ...SECRET_STORE, description: 'external-secrets: the store of this cluster, instead of secrets.store.' },
    sealingCert: {
      type: 'string',
      minLength: 1,
      description:
        "Path (relative to the work directory) of this cluster's Sealed Secrets controller certificate. Default: sealing-certs/<cluster>.pem.",
    },
  },
};

/** JSON Schema of topology.yaml. */
export const TOPOLOGY_SCHEMA: SchemaNode & { $schema: string; $id: string; title: string } = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://github.com/meshgen/meshgen/schema/topology.schema.json',
  title: 'meshgen topology.yaml',
  type: 'object',
  description: 'An Istio multicluster mesh: its id and its clusters (kube contexts) with their networks.',
  additionalProperties: false,
  required: ['mesh_id', 'contexts'],
  properties: {
    mesh_id: {
      type: 'string',
      minLength: 1,
      maxLength: 63,
      pattern: LABEL_VALUE,
      description: 'The Istio mesh ID (`values.global.meshID`).',
      'x-fix': 'use letters, digits, "-", "_" or "." (at most 63), starting and ending with a letter or digit',
    },
    org: { type: 'string', minLength: 1, maxLength: 64, description: 'Organisation (O=) of the root and intermediate CA certificates.' },
    trustDomain: { type: 'string', minLength: 1, default: 'cluster.local', description: 'The mesh trust domain.' },
    istio: {
      type: 'object',
      additionalProperties: false,
      description: 'How Istio is installed.',
      properties: {
        installer: {
          type: 'string',
          enum: ['operator', 'helm', 'sail'],
          default: 'helm',
          description:
            "helm: Istio's charts (base, istiod, gateway), the path Istio recommends since 1.24; sail: Sail Operator Istio resource; operator: IstioOperator resources, only for clusters that run an IstioOperator controller (Istio 1.24+ has none).",
        },
        version: { type: 'string', minLength: 1, description: 'Istio version (chart version for helm, spec.version for sail).' },
        revision: {
          type: 'string',
          maxLength: 46,
          pattern: DNS1123_LABEL,
          description:
            'Istio revision of the control plane and gateways (at most 46 characters: istiod-<revision> names a Service and a Helm release, which Helm limits to 53).',
          'x-fix': 'use a DNS-1123 label of at most 46 characters such as "1-30-3"',
        },
        revisions: {
          type: 'object',
          description:
            'The control plane revisions by name, each with its Istio version: one, or two during a canary upgrade (`meshgen upgrade`); the first listed is the current one. Replaces istio.version and istio.revision.',
          propertyNames: {
            type: 'string',
            maxLength: 46,
            pattern: DNS1123_LABEL,
            description: 'A revision name (istio.io/rev): a DNS-1123 label of at most 46 characters, not "default".',
            'x-fix': 'use a DNS-1123 label of at most 46 characters such as "1-30-3"',
          },
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['version'],
            properties: { version: { type: 'string', minLength: 1, description: 'Istio version of this revision (e.g. 1.30.3).' } },
          },
        },
        tags: {
          type: 'object',
          description:
            'Revision tags: tag name → revision name. Namespaces labelled istio.io/rev=<tag> are injected by the tagged revision; the tag "default" also serves istio-injection=enabled.',
          propertyNames: {
            type: 'string',
            maxLength: 63,
            pattern: DNS1123_LABEL,
            description: 'A tag name (the istio.io/rev label value of namespaces).',
            'x-fix': 'use a DNS-1123 label such as "prod-stable"',
          },
          additionalProperties: {
            type: 'string',
            minLength: 1,
            description: 'The revision the tag points at (a key of istio.revisions, or istio.revision).',
          },
        },
        gatewayRevision: {
          type: 'string',
          maxLength: 63,
          pattern: DNS1123_LABEL,
          description:
            'The tag or revision the east-west gateways run on (istio.io/rev of their pods); they take its Istio version. Default: the "default" tag if set, else the only revision.',
          'x-fix': 'name a key of istio.tags or istio.revisions',
        },
        hub: { type: 'string', minLength: 1, description: 'Container registry of the Istio images.' },
        dataplane: {
          type: 'string',
          enum: ['sidecar', 'ambient'],
          default: 'sidecar',
          description:
            "sidecar: Envoy sidecars; ambient: ztunnel and the HBONE east-west Gateway (multi-primary meshes only, as Istio's ambient multicluster supports).",
        },
      },
    },
    secrets: {
      type: 'object',
      additionalProperties: false,
      description: 'How secret values (cacerts, remote-secret tokens) reach the clusters.',
      properties: {
        provider: {
          type: 'string',
          enum: ['sealed-secrets', 'external-secrets'],
          default: 'sealed-secrets',
          description: 'sealed-secrets: SealedSecrets sealed offline; external-secrets: External Secrets Operator.',
        },
        store: { ...SECRET_STORE, description: 'external-secrets: the (Cluster)SecretStore every cluster reads from and pushes to.' },
        prefix: {
          type: 'string',
          minLength: 1,
          pattern: '^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$',
          description:
            'external-secrets: key prefix in the store (`<prefix>/<cluster>/cacerts`, `<prefix>/<cluster>/reader-token`). Default: istio/<mesh_id>.',
          'x-fix': 'use path segments of letters, digits, "_", "." or "-" separated by "/", without a leading or trailing "/"',
        },
      },
    },
    gitops: {
      type: 'object',
      additionalProperties: false,
      description: 'Where Argo CD and Flux find this repository, and how they apply dist/.',
      properties: {
        repoURL: {
          type: 'string',
          minLength: 1,
          description: 'Git URL of the repository holding dist/ (needed for the Argo CD ApplicationSet).',
        },
        targetRevision: { type: 'string', minLength: 1, default: 'main', description: 'Branch, tag or commit to deploy.' },
        path: {
          type: 'string',
          minLength: 1,
          pattern: '^[^/.][^\\s]*$',
          default: 'dist',
          description: 'Path of dist/ inside the repository.',
          'x-fix': 'use a relative path without a leading "/" or "./", e.g. dist or deploy/mesh/dist',
        },
        project: { type: 'string', minLength: 1, default: 'default', description: 'Argo CD project of the Applications.' },
        namespace: {
          type: 'string',
          maxLength: 63,
          pattern: DNS1123_LABEL,
          default: 'argocd',
          description: 'Namespace of Argo CD (where the ApplicationSet lives).',
        },
        generator: {
          type: 'string',
          enum: ['list', 'clusters'],
          default: 'list',
          description:
            'list: one element per cluster of topology.yaml, targeted by its server; clusters: every Argo CD cluster labelled meshgen.io/mesh=<mesh_id>, whose Argo CD name is the cluster name.',
        },
        fluxSource: {
          type: 'string',
          maxLength: 63,
          pattern: DNS1123_LABEL,
          default: 'flux-system',
          description: 'Name of the Flux GitRepository (in flux-system) that holds this repository.',
        },
      },
    },
    pki: {
      type: 'object',
      additionalProperties: false,
      description: 'How meshgen makes new CA keys (existing keys and certificates are kept).',
      properties: {
        keyAlgorithm: {
          type: 'string',
          enum: [...KEY_ALGORITHMS],
          default: DEFAULT_KEY_ALGORITHM,
          description:
            "Key algorithm of new intermediate CAs (synth, rotate) and new roots (rotate-root): rsa-4096 as Istio's tools/certs/common.mk, or ecdsa-p256 / ecdsa-p384 (signed ecdsa-with-SHA256 / SHA384; key generation in milliseconds instead of about a second per RSA-4096 key).",
        },
      },
    },
    contexts: {
      type: 'object',
      description: 'The clusters of the mesh, keyed by kube context name.',
      propertyNames: { type: 'string', minLength: 1 },
      additionalProperties: context,
    },
  },
};
