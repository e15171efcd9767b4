/** The tests' embedder is the one `langchain-gavel/testing` publishes for the memory conformance suite. */
export { ScriptedHashingEmbeddings, words } from "../../src/testing/scripted-embeddings.js";
