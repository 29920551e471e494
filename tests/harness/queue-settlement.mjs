// Turns the result of `Fetcher.queue()` into per-message settlement, with the precedence Cloudflare
// documents: an explicit retry()/ack() on a message beats ackAll()/retryAll(), which beat the implicit
// outcome (every message acked when the handler returns, retried when it throws).

/** `{ outcome, acked: [id], retried: [{ id, delaySeconds? }] }` for the messages `ids` of one batch. */
export function settleBatch(result, ids) {
  const explicitRetries = new Map(result.retryMessages.map(({ msgId, delaySeconds }) => [msgId, delaySeconds]));
  const explicitAcks = new Set(result.explicitAcks);
  const acked = [];
  const retried = [];
  const retry = (id, delaySeconds) => retried.push(delaySeconds === undefined ? { id } : { id, delaySeconds });

  for (const id of ids) {
    if (explicitRetries.has(id)) retry(id, explicitRetries.get(id));
    else if (explicitAcks.has(id) || result.ackAll) acked.push(id);
    else if (result.retryBatch.retry) retry(id, result.retryBatch.delaySeconds);
    else if (result.outcome === "ok") acked.push(id);
    else retry(id);
  }
  return { outcome: result.outcome, acked, retried };
}
