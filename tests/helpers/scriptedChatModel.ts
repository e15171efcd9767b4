/**
 * Test double: the scripted chat model, as users get it from `langchain-gavel/testing`
 * (`src/testing.ts`); tests import it from here.
 */
export * from "../../src/testing.js";
