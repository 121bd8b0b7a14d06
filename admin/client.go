package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mtreplica/mtreplica"
)

// Client calls a Server.
type Client struct {
	Addr  string // host:port (default DefaultAddr)
	Token string // for control calls
	HTTP  *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 2 * time.Minute}
}

func (c *Client) url(path string) string {
	addr := c.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	return "http://" + addr + path
}

// Status returns the replica's status and the JSON it came as.
func (c *Client) Status(ctx context.Context) (mtreplica.Status, []byte, error) {
	var s mtreplica.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/status"), nil)
	if err != nil {
		return s, nil, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	body, err := c.do(req)
	if err != nil {
		return s, nil, err
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return s, nil, fmt.Errorf("admin status: %w", err)
	}
	return s, body, nil
}

// Control calls a control endpoint ("start", "stop", "skip", "delay",
// "reset") with its parameters and returns the status after it.
func (c *Client) Control(ctx context.Context, action string, params url.Values) (mtreplica.Status, error) {
	var s mtreplica.Status
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/"+action), strings.NewReader(params.Encode()))
	if err != nil {
		return s, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	body, err := c.do(req)
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("admin %s: %w", action, err)
	}
	return s, nil
}

// StatusError is a call the server refused or failed.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("admin endpoint: %s (HTTP %d)", e.Message, e.Code)
}

func (c *Client) do(req *http.Request) ([]byte, error) {
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
		}
		return nil, &StatusError{Code: resp.StatusCode, Message: e.Error}
	}
	return body, nil
}
