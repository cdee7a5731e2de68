import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";

/** One service and its (possibly partial) implementation. Methods left out answer `unimplemented`. */
export interface ServiceRegistration<S extends DescService = DescService> {
  readonly service: S;
  readonly impl: Partial<ServiceImpl<S>>;
}

/** Pairs a service descriptor with its implementation, keeping the two type-checked together. */
export function registration<S extends DescService>(service: S, impl: Partial<ServiceImpl<S>>): ServiceRegistration {
  return { service, impl } as ServiceRegistration;
}

/** Registers every service on a Connect router. */
export function createRoutes(services: readonly ServiceRegistration[]): (router: ConnectRouter) => void {
  return (router) => {
    for (const { service, impl } of services) router.service(service, impl);
  };
}
