// The deployed entry of platform-error-collector. workers-rs has no tail handler, so this adds one
// to worker-build's untouched output: `tail(events)` hands the batch to the Rust export
// `tail_events` with this worker's env. Everything else (fetch, scheduled) is the Rust worker's.
import Collector from "./build/index.js";

const collect = Collector.prototype.tail_events;

export default class ErrorCollector extends Collector {
  async tail(events) {
    await collect.call(this, events, this.env);
  }

  // worker-build exposes every wasm export as an entrypoint method; this one is not an RPC API.
  tail_events() {
    throw new Error("not callable: tail events arrive through tail()");
  }
}
