// The body field that marks the harness's barrier messages on the telemetry queue (see telemetry-capture.mjs).
export const BARRIER_FIELD = "telemetry_capture_barrier";
