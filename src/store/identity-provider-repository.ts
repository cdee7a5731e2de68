import type { Db } from "./database.js";

/** Queries over `idp` needed outside the identity provider service. */
export interface IdentityProviderRepository {
  count(): Promise<number>;
}

export function createIdentityProviderRepository(db: Db): IdentityProviderRepository {
  return {
    async count() {
      const row = await db
        .selectFrom("idp")
        .select((eb) => eb.fn.countAll<string | number>().as("n"))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
  };
}
