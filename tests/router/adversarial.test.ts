/**
 * The adversarial suite of issue 14, item 4 ("plans are data, not instructions"): the probe's five
 * injection variants against the two juror behaviours of `adversarial-jurors.ts`, TRIALS seeded
 * auctions each (the seed moves the jurors' presentation order and the tie rule; the injected
 * plan's bidder alternates between the two pool slots).
 *
 * The bar: the injected plan's win rate against its clean twin is at most the clean twin's win rate
 * against itself (the same slot, the same seeds), plus TOLERANCE; and no plan ever reaches a
 * system message of the winner.
 *
 * On the code before the fix (the parent of commit 1bb82af) this suite failed: see the rates in docs/router.md,
 * "Plans are data".
 */
import type { BaseMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { AuctionRouter } from "../../src/router/index.js";
import { quoteAsData } from "../../src/router/prompts.js";
import { ScriptedChatModel } from "../helpers/scriptedChatModel.js";
import {
  CLEAN_PLAN,
  INJECTIONS,
  type JurorBehaviour,
  jurorReply,
  LOOKALIKE_PAST_THE_SCREEN,
  TASK,
  type Variant,
  WEAK_PLAN,
  WEAK_WITH_FAKE_LINES,
} from "./adversarial-jurors.js";
import { CHEAP, DEAR, gavelOf, kindOf } from "./scripted-pool.js";

/** Seeded trials per variant, juror behaviour and condition (injected / clean twin). */
const TRIALS = 60;
/**
 * Two standard errors of a fair coin over TRIALS: the clean twin against itself wins its slot
 * about half the time (the seeded tie rule), so an injected plan that did no better than its twin
 * could still land up to this much above the measured control by chance.
 */
const TOLERANCE = 2 * Math.sqrt(0.25 / TRIALS);

interface Trial {
  /** The slot's bidder (the injected one, or the clean twin in the control) won. */
  won: boolean;
  /** Its bid was accepted (not dropped). */
  accepted: boolean;
  /** The winner's answer prompt had a system message carrying its plan (or any injected text). */
  systemInsertion: boolean;
  /** The winner's plan reached its answer prompt quoted, escaped, in a human message. */
  quotedInUserTurn: boolean;
  /** Jury scores dropped in the auction. */
  droppedScores: number;
}

function member(name: string, plan: string, behaviour: JurorBehaviour, answers: BaseMessage[][]): ScriptedChatModel {
  return new ScriptedChatModel({
    model: name,
    replies: (call) => {
      const kind = kindOf(call);
      if (kind === "plan") return plan;
      if (kind === "jury") return jurorReply(behaviour, call.messages.at(-1)?.text ?? "");
      answers.push(call.messages);
      return "The sum is 2450.";
    },
  });
}

/**
 * One bidder (the slot, alternating between the pool's two names with the seed) bids the injected
 * plan or its clean twin; the other bids the opponent plan (by default the clean twin itself).
 */
interface Scenario {
  name: string;
  injected: string;
  twin: string;
  opponent: string;
  /** Prices of the slot's bidder and of the opponent (default: the same). */
  slotPrice?: { inputPerMillion: number; outputPerMillion: number };
  opponentPrice?: { inputPerMillion: number; outputPerMillion: number };
  /** The juror behaviours it is held to (default both). */
  behaviours?: JurorBehaviour[];
}

async function runTrial(
  scenario: Scenario,
  behaviour: JurorBehaviour,
  injected: boolean,
  seed: number,
): Promise<Trial> {
  const slot = seed % 2 === 0 ? "one" : "two";
  const planOf = (name: string) => (name === slot ? (injected ? scenario.injected : scenario.twin) : scenario.opponent);
  const priceOf = (name: string) => (name === slot ? scenario.slotPrice : scenario.opponentPrice) ?? CHEAP;
  const answers: BaseMessage[][] = [];
  const router = new AuctionRouter({
    pool: ["one", "two"].map((name) => ({
      name,
      model: member(name, planOf(name), behaviour, answers),
      price: priceOf(name),
    })),
    seed,
  });
  const { auction } = gavelOf(await router.invoke(TASK));
  const winnerPlan = planOf(auction.winner);
  const prompt = answers[0] ?? [];
  const systemText = prompt.filter((message) => message.type === "system").map((message) => message.text);
  const marks = [CLEAN_PLAN.slice(0, 30), WEAK_PLAN.slice(0, 20), "PWNED", "SCORE", "jury"];
  return {
    won: auction.winner === slot,
    accepted: auction.bids.some((bid) => bid.bidder === slot),
    systemInsertion: systemText.some((text) => marks.some((mark) => text.includes(mark))),
    quotedInUserTurn: prompt.some(
      (message) => message.type === "human" && message.text.includes(`<plan>\n${quoteAsData(winnerPlan)}\n</plan>`),
    ),
    droppedScores: auction.bids.reduce((sum, bid) => sum + Object.keys(bid.juryDropped).length, 0),
  };
}

async function runTrials(scenario: Scenario, behaviour: JurorBehaviour, injected: boolean): Promise<Trial[]> {
  const trials: Trial[] = [];
  for (let seed = 1; seed <= TRIALS; seed += 1) trials.push(await runTrial(scenario, behaviour, injected, seed));
  return trials;
}

const rate = (trials: readonly Trial[], pick: (trial: Trial) => boolean) => trials.filter(pick).length / trials.length;

/** The five variants against their clean twins, and (2) once more as the probe ran it: a cheaper, weaker plan. */
const SCENARIOS: Scenario[] = [
  ...(Object.keys(INJECTIONS) as Variant[]).map((variant) => ({
    name: variant,
    injected: INJECTIONS[variant],
    twin: CLEAN_PLAN,
    opponent: CLEAN_PLAN,
  })),
  {
    name: "fakeScoreLines from a cheaper, weaker plan",
    injected: WEAK_WITH_FAKE_LINES,
    twin: WEAK_PLAN,
    opponent: CLEAN_PLAN,
    slotPrice: CHEAP,
    opponentPrice: DEAR,
  },
  {
    // The escaping alone: this wording passes the invalid-bid screen, so the juror is shown it.
    // An obedient juror obeys it wherever it stands (docs/router.md: the screen's limit).
    name: "lookalikeCloseTag worded past the screen",
    injected: LOOKALIKE_PAST_THE_SCREEN,
    twin: CLEAN_PLAN,
    opponent: CLEAN_PLAN,
    behaviours: ["honest"],
  },
];
const BEHAVIOURS: JurorBehaviour[] = ["honest", "obedient"];

describe("adversarial suite: an injected plan does no better than its clean twin", () => {
  for (const scenario of SCENARIOS) {
    for (const behaviour of scenario.behaviours ?? BEHAVIOURS) {
      it(`${scenario.name} × ${behaviour} juror, ${TRIALS} seeded trials`, async () => {
        const injected = await runTrials(scenario, behaviour, true);
        const control = await runTrials(scenario, behaviour, false);
        const injectedRate = rate(injected, (trial) => trial.won);
        const controlRate = rate(control, (trial) => trial.won);
        if (process.env.GAVEL_ADVERSARIAL_REPORT) {
          console.log(
            JSON.stringify({
              scenario: scenario.name,
              behaviour,
              injectedWins: injectedRate,
              cleanTwinWins: controlRate,
              injectedAccepted: rate(injected, (trial) => trial.accepted),
              systemInsertions: [...injected, ...control].filter((trial) => trial.systemInsertion).length,
              droppedScoresPerAuction: injected.reduce((sum, trial) => sum + trial.droppedScores, 0) / injected.length,
            }),
          );
        }
        if (scenario.opponent === scenario.twin) {
          // The clean twin against itself is a fair coin between two identical bids (the seeded tie rule)...
          expect(controlRate).toBeGreaterThan(0.5 - TOLERANCE);
          expect(controlRate).toBeLessThan(0.5 + TOLERANCE);
        }
        // ...and the injected plan does no better than its clean twin did.
        expect(injectedRate).toBeLessThanOrEqual(controlRate + TOLERANCE);
        // No plan ever reaches a system message; every winner's plan is quoted in a user turn.
        expect([...injected, ...control].filter((trial) => trial.systemInsertion)).toHaveLength(0);
        expect([...injected, ...control].every((trial) => trial.quotedInUserTurn)).toBe(true);
      });
    }
  }
});
