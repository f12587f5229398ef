import { z } from "@hono/zod-openapi";
import { ScopeName } from "../schemas";
import { defineModule } from "./types";

/**
 * Writes the document, as the modules before it left it, into another scope of the same
 * record (version = now); a delete item deletes that scope, so a derived scope follows
 * its source. With content processing on, the written scope's pipeline is queued.
 *
 * A refused write fails the item with the reason: a chain of scope writes
 * (raw → index → raw ...) is cut after 8 hops, so a cycle between pipelines ends in the
 * failed list instead of running forever.
 *
 * @example {"module":"ScopeWriter","settings":{"scope":"index"}}
 */
export const ScopeWriter = defineModule({
  name: "ScopeWriter",
  description: "Writes the current document into another scope of the same record (a delete deletes it); that scope's pipeline is queued.",
  settings: z.object({ scope: ScopeName }).strict(),
  create: ({ settings, unit }) => ({
    process(item) {
      const refused = unit.write(item, settings.scope, item.document);
      if (refused !== undefined) item.fail(`ScopeWriter: ${refused}`);
    },
  }),
});
