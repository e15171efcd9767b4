/**
 * Test double: the scripted chat model. It lives in `adapters/providers/scripted.ts` (so offline
 * examples can use it too); tests import it from here.
 */
export {
  type ScriptedCall,
  ScriptedChatModel,
  type ScriptedChatModelCallOptions,
  type ScriptedChatModelFields,
  ScriptedRecorder,
  type ScriptedReply,
  type ScriptedResponder,
  type ScriptedToolCall,
  type ScriptedTurn,
} from "../../adapters/providers/scripted.js";
