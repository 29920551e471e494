// Fake Slack incoming webhooks: plain-text answers exactly as Slack gives them.

export function handleSlack({ request, url, body }) {
  if (request.method !== "POST" || !url.pathname.startsWith("/services/")) return slackText(404, "no_service");
  let payload;
  try {
    payload = JSON.parse(body);
  } catch {
    return slackText(400, "invalid_payload");
  }
  if (payload?.text === undefined && payload?.blocks === undefined && payload?.attachments === undefined) {
    return slackText(400, "no_text");
  }
  return slackText(200, "ok");
}

function slackText(status, text) {
  return new Response(text, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}
