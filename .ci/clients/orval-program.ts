// A small typed program against the client orval generates from roster's served OpenAPI
// document (.ci/run generates it into ./gen/orval.ts, compiles this with tsc --strict and runs
// it against a live roster). It fails to compile if the document's types are wrong for a real
// client, and fails at run time if the server disagrees with them.
import {
  createAccount, createApiKey, createEntity, getEntity, listEntities, conduitGetEntity,
  batchCreateEntityRelationships,
  type AccountCreateRequest, type EntityCreateRequest,
} from "./gen/orval";

const base = process.env.ROSTER_URL!;
const superKey = process.env.ROSTER_KEY!;
// The generated client calls fetch with the path alone: put the server in front.
const realFetch = globalThis.fetch;
globalThis.fetch = (input: string | URL | Request, init?: RequestInit) => realFetch(base + String(input), init);

const as = (key: string): RequestInit => ({ headers: { Authorization: `Bearer ${key}` } });

function check(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Error(what);
}

async function main(): Promise<void> {
  // Only the required fields: a request type that made optional fields required would not compile.
  const account: AccountCreateRequest = { name: "Orval Co" };
  const acc = await createAccount(account, undefined, as(superKey));
  check(acc.status === 201, `create account: ${acc.status}`);
  const accountId: string = acc.data.id;
  const slug: string = acc.data.slug;

  const key = await createApiKey({ account_id: accountId, name: "orval admin" }, undefined, as(superKey));
  check(key.status === 201, `create key: ${key.status}`);
  // The secret is null on an idempotent replay, so the type says string | null.
  const secret = key.data.key;
  check(secret !== null, "a new key without its secret");

  const body: EntityCreateRequest = { name: "Orval Seller", module_ids: [], source: "seller", recipient: null };
  const ent = await createEntity(body, undefined, as(secret));
  check(ent.status === 201, `create entity: ${ent.status}`);
  const entityId: string = ent.data.id;

  const got = await getEntity(entityId, undefined, as(secret));
  check(got.status === 200 && got.data.name === "Orval Seller", `get entity: ${got.status}`);
  const conduit = await conduitGetEntity(entityId.replace("entity_", ""), as(secret));
  check(conduit.status === 200 && conduit.data.id === entityId.replace("entity_", ""), `conduit get: ${conduit.status}`);

  const batch = await batchCreateEntityRelationships(accountId, { entity_ids: [entityId], relationship_type: "account_holder" },
    undefined, { headers: { Authorization: `Bearer ${secret}`, "Idempotency-Key": "orval-1" } });
  check(batch.status === 200 && batch.data.entity_ids.length === 1, `batch: ${batch.status}`);

  const list = await listEntities({ limit: 10 }, as(secret));
  check(list.status === 200 && list.data.data.length === 1 && list.data.pagination.has_next === false, `list: ${list.status}`);

  const missing = await getEntity("entity_000000000000000000000000", undefined, as(secret));
  check(missing.status === 404, `missing entity: ${missing.status}`);
  console.log(`orval client: ok (account ${slug}, entity ${entityId})`);
}

main().catch((err) => {
  console.error("orval client:", err);
  process.exit(1);
});
