// PostGraphile 5 over the Hero Tasks database, for `make bench-peers`: the
// amber preset (PostGraphile's recommended defaults) on the public schema,
// in production mode (no GraphiQL, no explain, no watch). The benchmark
// runner sets DATABASE_URL, PORT and PG_POOL_MAX.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: Number(process.env.PG_POOL_MAX || 20) },
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT || 5678),
    graphiql: false,
    watch: false,
  },
  grafast: { explain: false },
};

export default preset;
