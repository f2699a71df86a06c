// Send one canonical event to the partner gateway, signed with Standard Webhooks.
//
// Java 17 or newer, JDK only (java.net.http, javax.crypto). Run it as a single file:
//   java SendEvent.java
// or compile it first: javac -d out SendEvent.java && java -cp out SendEvent
//
// Configuration through the environment (the same names as every sample):
//   PGW_BASE_URL, PGW_PARTNER_ID, PGW_CLIENT_ID, PGW_CLIENT_SECRET,
//   PGW_WEBHOOK_SECRET (whsec_...), PGW_ORDER_ID (ord_...),
//   PGW_PARTNER_REFERENCE (optional).
// It posts a rental.order.accepted event, prints the answer's status and body,
// and exits 0 on a 2xx answer, 1 otherwise (2: a variable is missing).

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public final class SendEvent {
    private static final ZoneOffset CHINA = ZoneOffset.ofHours(8);
    private static final SecureRandom RANDOM = new SecureRandom();
    // HTTP/1.1: on an http:// URL the JDK's default (HTTP/2) offers an "Upgrade: h2c", and
    // the gateway then reads the request without its body. Over https:// either works.
    private static final HttpClient HTTP = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();

    private SendEvent() {}

    private static String env(String name) {
        String value = System.getenv(name);
        if (value == null || value.isEmpty()) {
            System.err.println(name + " is not set");
            System.exit(2);
        }
        return value;
    }

    private static String form(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    /** OAuth 2.0 client credentials, client_secret_basic, scope events:write. */
    static String getToken(String baseUrl, String clientId, String clientSecret) throws Exception {
        // RFC 6749 section 2.3.1: form-encode id and secret before Basic encoding.
        String pair = form(clientId) + ":" + form(clientSecret);
        String basic = Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + "/oauth/token"))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Basic " + basic)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(
                        "grant_type=client_credentials&scope=" + form("events:write")))
                .build();
        HttpResponse<String> response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            System.err.println("token request refused: " + response.statusCode() + " " + response.body());
            System.exit(1);
        }
        // The answer is {"access_token": "...", "token_type": "Bearer", ...}; a JWT has no quotes.
        Matcher token = Pattern.compile("\"access_token\"\\s*:\\s*\"([^\"]+)\"").matcher(response.body());
        if (!token.find()) {
            System.err.println("no access_token in " + response.body());
            System.exit(1);
        }
        return token.group(1);
    }

    /** Standard Webhooks: v1,<base64 HMAC-SHA256 of "id.timestamp.body">. */
    static String sign(String secret, String webhookId, long timestamp, byte[] body) throws Exception {
        String encoded = secret.startsWith("whsec_") ? secret.substring("whsec_".length()) : secret;
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(Base64.getDecoder().decode(encoded), "HmacSHA256"));
        mac.update((webhookId + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8));
        return "v1," + Base64.getEncoder().encodeToString(mac.doFinal(body));
    }

    /** A JSON string literal. */
    static String json(String value) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : value.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.append('"').toString();
    }

    static String randomHex() {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }

    /** A canonical rental.order.accepted event (see GET /v1/events/catalog). */
    static String buildEvent(String partnerId, String orderId, String reference) {
        OffsetDateTime now = OffsetDateTime.now(CHINA).truncatedTo(ChronoUnit.SECONDS);
        DateTimeFormatter iso = DateTimeFormatter.ISO_OFFSET_DATE_TIME;
        StringBuilder event = new StringBuilder("{")
                .append("\"event_id\":").append(json("evt_" + randomHex()))
                .append(",\"type\":\"rental.order.accepted\"")
                .append(",\"partner_id\":").append(json(partnerId))
                .append(",\"order_id\":").append(json(orderId));
        if (reference != null && !reference.isEmpty()) {
            event.append(",\"partner_reference\":").append(json(reference));
        }
        return event
                .append(",\"occurred_at\":").append(json(now.format(iso)))
                .append(",\"sequence\":1")
                .append(",\"data\":{\"eta\":").append(json(now.plusMinutes(25).format(iso)))
                .append("}}")
                .toString();
    }

    public static void main(String[] args) throws Exception {
        String baseUrl = env("PGW_BASE_URL").replaceAll("/+$", "");
        String partnerId = env("PGW_PARTNER_ID");
        String token = getToken(baseUrl, env("PGW_CLIENT_ID"), env("PGW_CLIENT_SECRET"));
        String event = buildEvent(partnerId, env("PGW_ORDER_ID"), System.getenv("PGW_PARTNER_REFERENCE"));
        // Sign exactly the bytes that are sent; a retry of this message reuses webhookId.
        byte[] body = event.getBytes(StandardCharsets.UTF_8);
        String webhookId = "msg_" + randomHex();
        long timestamp = System.currentTimeMillis() / 1000;
        HttpRequest request = HttpRequest
                .newBuilder(URI.create(baseUrl + "/v1/partners/" + form(partnerId) + "/events"))
                .timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json")
                .header("webhook-id", webhookId)
                .header("webhook-timestamp", Long.toString(timestamp))
                .header("webhook-signature", sign(env("PGW_WEBHOOK_SECRET"), webhookId, timestamp, body))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        HttpResponse<String> response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
        System.out.println(response.statusCode());
        System.out.println(response.body());
        System.exit(response.statusCode() >= 200 && response.statusCode() < 300 ? 0 : 1);
    }
}
