import type { Selectable } from "kysely";
import type { Db } from "./database.js";
import type { IdpTable } from "./schema.js";

/** An `idp` row; `config` is the parsed JSONB (protobuf-JSON of the provider config). */
export type IdentityProviderRow = Selectable<IdpTable>;

/** Columns a new identity provider is stored with; `config` is JSON text. */
export interface NewIdentityProvider {
  readonly uid: string;
  readonly name: string;
  readonly type: string;
  readonly identifierFilter: string;
  readonly config: string;
}

/** Columns an update may change (`config` as JSON text). */
export interface IdentityProviderPatch {
  name?: string;
  identifier_filter?: string;
  config?: string;
}

/** Queries over `idp` (SSO identity providers) and the `user_identity` links to them. */
export interface IdentityProviderRepository {
  count(): Promise<number>;
  /** Every provider, oldest first. */
  list(): Promise<IdentityProviderRow[]>;
  findByUid(uid: string): Promise<IdentityProviderRow | undefined>;
  /** Inserts a provider; a taken uid raises a unique violation. */
  create(idp: NewIdentityProvider): Promise<IdentityProviderRow>;
  /** Applies `patch`; answers the updated row, or `undefined` when there is none. */
  update(uid: string, patch: IdentityProviderPatch): Promise<IdentityProviderRow | undefined>;
  /**
   * Deletes the provider and the user links to it, in one transaction, unless `guard` (run inside
   * it, after the provider row is locked, with the number of other providers) throws. The guard
   * must not query the database itself. Answers false when there was no such provider.
   */
  delete(uid: string, guard?: (remaining: number) => Promise<void>): Promise<boolean>;
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
    list: () => db.selectFrom("idp").selectAll().orderBy("id").execute(),
    findByUid: (uid) => db.selectFrom("idp").selectAll().where("uid", "=", uid).executeTakeFirst(),
    create: (idp) =>
      db
        .insertInto("idp")
        .values({ uid: idp.uid, name: idp.name, type: idp.type, identifier_filter: idp.identifierFilter, config: idp.config })
        .returningAll()
        .executeTakeFirstOrThrow(),
    async update(uid, patch) {
      if (Object.keys(patch).length === 0) return db.selectFrom("idp").selectAll().where("uid", "=", uid).executeTakeFirst();
      return db.updateTable("idp").set(patch).where("uid", "=", uid).returningAll().executeTakeFirst();
    },
    delete(uid, guard) {
      return db.transaction().execute(async (trx) => {
        const row = await trx.selectFrom("idp").select("id").where("uid", "=", uid).forUpdate().executeTakeFirst();
        if (row === undefined) return false;
        if (guard !== undefined) {
          const others = await trx
            .selectFrom("idp")
            .select((eb) => eb.fn.countAll<string | number>().as("n"))
            .where("id", "<>", row.id)
            .executeTakeFirstOrThrow();
          await guard(Number(others.n));
        }
        await trx.deleteFrom("user_identity").where("provider", "=", uid).execute();
        await trx.deleteFrom("idp").where("id", "=", row.id).execute();
        return true;
      });
    },
  };
}
