#!/usr/bin/env node
// Send one canonical event to the partner gateway, signed with Standard Webhooks.
//
// Node.js 20 or newer, built-in modules only (node:crypto, global fetch).
// Configuration through the environment (the same names as every sample):
//   PGW_BASE_URL, PGW_PARTNER_ID, PGW_CLIENT_ID, PGW_CLIENT_SECRET,
//   PGW_WEBHOOK_SECRET (whsec_...), PGW_ORDER_ID (ord_...),
//   PGW_PARTNER_REFERENCE (optional).
// It posts a rental.order.accepted event, prints the answer's status and body,
// and exits 0 on a 2xx answer, 1 otherwise (2: a variable is missing).
//
//   node send_event.mjs

import { createHmac, randomBytes } from "node:crypto";

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return value;
}

// OAuth 2.0 client credentials, client_secret_basic, scope events:write.
async function getToken(baseUrl, clientId, clientSecret) {
  // RFC 6749 section 2.3.1: form-encode id and secret before Basic encoding.
  const pair = `${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`;
  const response = await fetch(`${baseUrl}/oauth/token`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(pair, "utf8").toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
      Accept: "application/json",
    },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "events:write" }),
  });
  const text = await response.text();
  if (response.status !== 200) {
    console.error(`token request refused: ${response.status} ${text}`);
    process.exit(1);
  }
  return JSON.parse(text).access_token;
}

// Standard Webhooks: v1,<base64 HMAC-SHA256 of "id.timestamp.body">.
function sign(secret, webhookId, timestamp, body) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const digest = createHmac("sha256", key)
    .update(`${webhookId}.${timestamp}.`)
    .update(body)
    .digest("base64");
  return `v1,${digest}`;
}

// An ISO 8601 time in China Standard Time, e.g. 2030-05-20T09:02:10+08:00.
function chinaTime(date) {
  const shifted = new Date(date.getTime() + 8 * 3600 * 1000);
  return shifted.toISOString().replace(/\.\d{3}Z$/, "+08:00");
}

// A canonical rental.order.accepted event (see GET /v1/events/catalog).
function buildEvent(partnerId, orderId, reference) {
  const now = new Date();
  const event = {
    event_id: `evt_${randomBytes(16).toString("hex")}`,
    type: "rental.order.accepted",
    partner_id: partnerId,
    order_id: orderId,
    occurred_at: chinaTime(now),
    sequence: 1,
    data: { eta: chinaTime(new Date(now.getTime() + 25 * 60 * 1000)) },
  };
  if (reference) {
    event.partner_reference = reference;
  }
  return event;
}

async function main() {
  const baseUrl = env("PGW_BASE_URL").replace(/\/+$/, "");
  const partnerId = env("PGW_PARTNER_ID");
  const token = await getToken(baseUrl, env("PGW_CLIENT_ID"), env("PGW_CLIENT_SECRET"));
  const event = buildEvent(partnerId, env("PGW_ORDER_ID"), process.env.PGW_PARTNER_REFERENCE);
  // Sign exactly the bytes that are sent; a retry of this message reuses webhookId.
  const body = Buffer.from(JSON.stringify(event), "utf8");
  const webhookId = `msg_${randomBytes(16).toString("hex")}`;
  const timestamp = Math.floor(Date.now() / 1000);
  const response = await fetch(
    `${baseUrl}/v1/partners/${encodeURIComponent(partnerId)}/events`,
    {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
        "webhook-id": webhookId,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": sign(env("PGW_WEBHOOK_SECRET"), webhookId, timestamp, body),
      },
      body,
    },
  );
  console.log(response.status);
  console.log(await response.text());
  return response.status >= 200 && response.status < 300 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
