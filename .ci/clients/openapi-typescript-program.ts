// A small typed program against the types openapi-typescript generates from roster's served
// OpenAPI document, with openapi-fetch (.ci/run generates ./gen/schema.d.ts, compiles this with
// tsc --strict and runs it against a live roster).
import createClient from "openapi-fetch";
import type { components, paths } from "./gen/schema";

type EntityCreate = components["schemas"]["EntityCreateRequest"];

const client = createClient<paths>({ baseUrl: process.env.ROSTER_URL! });
const superKey = process.env.ROSTER_KEY!;
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

function check(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Error(what);
}

async function main(): Promise<void> {
  const acc = await client.POST("/v1/accounts", { body: { name: "Typescript Co" }, headers: bearer(superKey) });
  check(acc.data !== undefined, `create account: ${acc.response.status}`);
  const accountId: string = acc.data.id;

  const key = await client.POST("/v1/api-keys", { body: { account_id: accountId, name: "ts admin" }, headers: bearer(superKey) });
  check(key.data !== undefined, `create key: ${key.response.status}`);
  // The secret is null on an idempotent replay, so the type says string | null.
  const secret = key.data.key;
  check(secret !== null, "a new key without its secret");

  // Only the required fields: defaults must not make optional fields required.
  const body: EntityCreate = { name: "TS Seller", module_ids: ["m1"], source: "seller", recipient: "crm" };
  const ent = await client.POST("/v1/entities", { body, headers: bearer(secret) });
  check(ent.data !== undefined, `create entity: ${ent.response.status}`);
  const entityId: string = ent.data.id;

  const patched = await client.PATCH("/v1/entities/{id}", { params: { path: { id: entityId } }, body: { description: "patched" }, headers: bearer(secret) });
  check(patched.data?.description === "patched", `patch entity: ${patched.response.status}`);

  const list = await client.GET("/v1/entities", { params: { query: { limit: 5, source: "seller" } }, headers: bearer(secret) });
  check(list.data !== undefined && list.data.data.length === 1, `list entities: ${list.response.status}`);

  const conduit = await client.GET("/entities", { headers: bearer(secret) });
  check(conduit.data !== undefined && conduit.data.length === 1, `conduit list: ${conduit.response.status}`);

  const missing = await client.GET("/v1/entities/{id}", { params: { path: { id: "entity_000000000000000000000000" } }, headers: bearer(secret) });
  check(missing.response.status === 404 && missing.error !== undefined, `missing entity: ${missing.response.status}`);
  console.log(`openapi-typescript client: ok (entity ${entityId})`);
}

main().catch((err) => {
  console.error("openapi-typescript client:", err);
  process.exit(1);
});
