-- A rejected or dead-lettered message is kept once, however often it is delivered: a redelivered
-- batch (a lost ack, a retry after its count was stored) records its refusals again, and replaying
-- every pending row would then count the message twice. The insert looks for the message here.
CREATE INDEX IF NOT EXISTS telemetry_rejects_by_message ON telemetry_rejects (message_id, kind);
