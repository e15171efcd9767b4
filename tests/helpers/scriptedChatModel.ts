/**
 * Test double: the scripted chat model. It lives in `adapters/providers/scripted.ts` (so offline
 * examples can use it too); tests import it from here.
 */
export {
  ScriptedChatModel,
  type ScriptedChatModelCallOptions,
  type ScriptedChatModelFields,
  type ScriptedCall,
  ScriptedRecorder,
  type ScriptedReply,
  type ScriptedResponder,
  type ScriptedToolCall,
  type ScriptedTurn,
} from "../../adapters/providers/scripted.js";
