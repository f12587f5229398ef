/** Half of the simulation's CI seeds (ci-seeds.ts); seeds-even.test.ts runs the other half beside it. */
import { describe } from "vitest";
import { ciSeeds } from "./ci-seeds";

describe("the shard protocol's simulation, odd seeds", () => ciSeeds(1, 2));
