/**
 * The budget-store conformance suite on the in-process reference store.
 */
import { createMemoryBudgetStore } from "../../src/budget/store.js";
import { describeBudgetStoreConformance } from "../../src/testing/budget-store-conformance.js";

await describeBudgetStoreConformance({ name: "in-process", create: () => createMemoryBudgetStore() });
