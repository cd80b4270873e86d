import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';

/** Props of an `IstioOperator` object. */
export interface IstioOperatorProps {
  /** metadata.name. */
  readonly name: string;
  /** metadata.namespace. */
  readonly namespace: string;
  /**
   * metadata.annotations.
   * @default - none
   */
  readonly annotations?: Record<string, string>;
  /** The IstioOperator spec (profile, components, values, meshConfig...). */
  readonly spec: Record<string, unknown>;
}

/**
 * An `install.istio.io/v1alpha1` IstioOperator.
 *
 * A plain ApiObject because the IstioOperator CRD is schemaless and the class `cdk8s import` generates
 * for it silently drops `spec`.
 *
 * @see https://istio.io/latest/docs/reference/config/istio.operator.v1alpha1/
 */
export class IstioOperator extends ApiObject {
  constructor(scope: Construct, id: string, props: IstioOperatorProps) {
    super(scope, id, {
      apiVersion: 'install.istio.io/v1alpha1',
      kind: 'IstioOperator',
      metadata: { name: props.name, namespace: props.namespace, annotations: props.annotations },
      spec: props.spec,
    });
  }
}
