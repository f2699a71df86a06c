// Send one canonical event to the partner gateway, signed with Standard Webhooks.
//
// Go 1.19 or newer, standard library only (net/http, crypto/hmac). Run it with
//
//	go run send_event.go
//
// Configuration through the environment (the same names as every sample):
// PGW_BASE_URL, PGW_PARTNER_ID, PGW_CLIENT_ID, PGW_CLIENT_SECRET,
// PGW_WEBHOOK_SECRET (whsec_...), PGW_ORDER_ID (ord_...),
// PGW_PARTNER_REFERENCE (optional).
// It posts a rental.order.accepted event, prints the answer's status and body,
// and exits 0 on a 2xx answer, 1 otherwise (2: a variable is missing).
package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

var (
	china  = time.FixedZone("CST", 8*3600)
	client = &http.Client{Timeout: 30 * time.Second}
)

func env(name string) string {
	value := os.Getenv(name)
	if value == "" {
		fmt.Fprintf(os.Stderr, "%s is not set\n", name)
		os.Exit(2)
	}
	return value
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func randomHex() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		fail(err)
	}
	return hex.EncodeToString(b)
}

// getToken: OAuth 2.0 client credentials, client_secret_basic, scope events:write.
func getToken(baseURL, clientID, clientSecret string) string {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"events:write"}}
	req, err := http.NewRequest(http.MethodPost, baseURL+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		fail(err)
	}
	// RFC 6749 section 2.3.1: form-encode id and secret before Basic encoding.
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		fail(err)
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "token request refused: %d %s\n", resp.StatusCode, text)
		os.Exit(1)
	}
	var answer struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(text, &answer); err != nil {
		fail(err)
	}
	return answer.AccessToken
}

// sign: Standard Webhooks, v1,<base64 HMAC-SHA256 of "id.timestamp.body">.
func sign(secret, webhookID string, timestamp int64, body []byte) string {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		fail(fmt.Errorf("PGW_WEBHOOK_SECRET is not whsec_ and base64: %w", err))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(webhookID + "." + strconv.FormatInt(timestamp, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// buildEvent: a canonical rental.order.accepted event (see GET /v1/events/catalog).
func buildEvent(partnerID, orderID, reference string) []byte {
	now := time.Now().In(china).Truncate(time.Second)
	event := map[string]any{
		"event_id":    "evt_" + randomHex(),
		"type":        "rental.order.accepted",
		"partner_id":  partnerID,
		"order_id":    orderID,
		"occurred_at": now.Format(time.RFC3339),
		"sequence":    1,
		"data":        map[string]any{"eta": now.Add(25 * time.Minute).Format(time.RFC3339)},
	}
	if reference != "" {
		event["partner_reference"] = reference
	}
	body, err := json.Marshal(event)
	if err != nil {
		fail(err)
	}
	return body
}

func main() {
	baseURL := strings.TrimRight(env("PGW_BASE_URL"), "/")
	partnerID := env("PGW_PARTNER_ID")
	token := getToken(baseURL, env("PGW_CLIENT_ID"), env("PGW_CLIENT_SECRET"))
	// Sign exactly the bytes that are sent; a retry of this message reuses webhookID.
	body := buildEvent(partnerID, env("PGW_ORDER_ID"), os.Getenv("PGW_PARTNER_REFERENCE"))
	webhookID := "msg_" + randomHex()
	timestamp := time.Now().Unix()
	req, err := http.NewRequest(
		http.MethodPost, baseURL+"/v1/partners/"+url.PathEscape(partnerID)+"/events", bytes.NewReader(body))
	if err != nil {
		fail(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", webhookID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(timestamp, 10))
	req.Header.Set("webhook-signature", sign(env("PGW_WEBHOOK_SECRET"), webhookID, timestamp, body))
	resp, err := client.Do(req)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		fail(err)
	}
	fmt.Println(resp.StatusCode)
	fmt.Println(string(text))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		os.Exit(1)
	}
}
