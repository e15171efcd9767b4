/**
 * Clear one set of bids with each of Gavel's mechanisms and print the record.
 * Run: npx tsx examples/auction.ts
 */
import { type AuctionOptions, type Bid, clearAuction } from "langchain-gavel";

// Four agents bid for the right to speak this round: `amount` is the value each claims for its
// message, `tokens` how long the message would be (only budgeted_vcg reads it).
const bids: Bid[] = [
  { bidder: "planner", amount: 0.9, tokens: 300 },
  { bidder: "critic", amount: 0.4, tokens: 120 },
  { bidder: "coder", amount: 0.7, tokens: 500 },
  { bidder: "summariser", amount: 0.4, tokens: 200 },
  { bidder: "lurker", amount: 0.05, tokens: 80 },
];

const auctions: AuctionOptions[] = [
  { mechanism: "first_price", reservePrice: 0.1 },
  { mechanism: "second_price", reservePrice: 0.1, topK: 2 },
  { mechanism: "softmax", reservePrice: 0.1, topK: 2, temperature: 0.5, seed: 42 },
  { mechanism: "budgeted_vcg", reservePrice: 0.1, tokenCap: 700 },
];

for (const options of auctions) {
  const outcome = clearAuction(bids, options);
  const tokens = outcome.tokensUsed === undefined ? "" : `, ${outcome.tokensUsed}/${outcome.tokenCap} tokens`;
  const clearingPrice = Number(outcome.clearingPrice.toFixed(4));
  console.log(
    `\n${outcome.mechanism}: winners ${outcome.winners.join(", ")}; clearing price ${clearingPrice}${tokens}`,
  );
  for (const result of outcome.results) {
    const price = result.won ? ` pays ${Number(result.price.toFixed(4))}` : "";
    console.log(
      `  ${result.rank}. ${result.bidder.padEnd(10)} ${result.reason.padEnd(13)}${price}\n       ${result.detail}`,
    );
  }
}
