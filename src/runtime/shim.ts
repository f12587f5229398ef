/**
 * What the self-hosted bundles get for `import ... from "cloudflare:workers"`: the
 * `DurableObject` base class, which on Workers keeps `ctx` and `env` for the subclass.
 * The build (scripts/build-selfhost.mjs) aliases the module to this file, so the classes
 * in src/unit and src/registry run unchanged.
 */
export abstract class DurableObject<Env = unknown> {
  protected ctx: DurableObjectState;
  protected env: Env;

  constructor(ctx: DurableObjectState, env: Env) {
    this.ctx = ctx;
    this.env = env;
  }
}
