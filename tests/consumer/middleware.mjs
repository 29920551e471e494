// The SDK's /middleware project-level check (consumer-protocol.md §2.4): GLOBAL_STOP_ALL, then
// PROJECT:{UPPER}:STATUS, read fresh on every call with no error handling (a KV error throws).

import { sdkLog } from "./logging.mjs";
import {
  GLOBAL_STOP_ALL_KEY,
  GLOBAL_STOP_ALL_ON,
  PROJECT_PAUSED,
  PROJECT_WARNING,
  middlewareProjectKey,
} from "./keys.mjs";

// The SDK's internal logger is created once per isolate, with one random correlation id.
let internalCorrelationId;

/** `{ blocked: Response }` when the request must be refused, else `{ warning: boolean }`. */
export async function checkProjectBreaker(kv, project) {
  if ((await kv.get(GLOBAL_STOP_ALL_KEY)) === GLOBAL_STOP_ALL_ON) {
    return { blocked: blockedResponse("Service temporarily unavailable due to global circuit breaker", "GLOBAL_CIRCUIT_BREAKER", 3600) };
  }
  const status = await kv.get(middlewareProjectKey(project));
  if (status === PROJECT_PAUSED) {
    return { blocked: blockedResponse("Service paused due to resource limits exceeded", "PROJECT_CIRCUIT_BREAKER", 1800) };
  }
  if (status === PROJECT_WARNING) {
    sdkLog("warn", {
      message: "Request allowed despite budget warning",
      worker: "platform-sdk",
      correlationId: (internalCorrelationId ??= crypto.randomUUID()),
      featureId: "platform:sdk:circuit-breaker",
      context: { type: "budget_exceeded", project: project.toLowerCase(), status: PROJECT_WARNING },
    });
    return { warning: true };
  }
  return { warning: false };
}

function blockedResponse(error, code, retryAfterSeconds) {
  return Response.json(
    { success: false, error, code, retryAfterSeconds },
    { status: 503, headers: { "Retry-After": String(retryAfterSeconds), "X-Circuit-Breaker": code } },
  );
}
