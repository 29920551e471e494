// The SDK logger's output: one console call whose only argument is a single-line JSON string
// (consumer-protocol.md §5.3). This is what the error collector finds in tail events.

const CONSOLE_METHOD = { debug: "debug", info: "log", warn: "warn", error: "error" };

/** Logs `fields` (message, worker, correlationId, featureId, error, context, ...) and returns the logged entry. */
export function sdkLog(level, fields) {
  const entry = { level, message: fields.message, timestamp: new Date().toISOString(), ...fields };
  console[CONSOLE_METHOD[level]](JSON.stringify(entry));
  return entry;
}

