package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

func init() {
	register(command{
		name:    "calls",
		summary: "list stored calls or show one (REST client of a running engine)",
		run:     runCalls,
	})
}

func runCalls(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "calls", "[CALL_ID]",
		"Lists calls newest first (with filters), or prints one call's full record as JSON.")
	base := fs.String("url", envDefault("EARSHOT_URL", "http://127.0.0.1:8470"), "engine base URL (env EARSHOT_URL)")
	token := fs.String("token", envDefault("EARSHOT_TOKEN", ""), "agent, supervisor or admin token (env EARSHOT_TOKEN)")
	agent := fs.String("agent", "", "only this agent's calls")
	from := fs.String("from", "", "started at or after (RFC 3339)")
	to := fs.String("to", "", "started at or before (RFC 3339)")
	category := fs.String("category", "", "only calls with this category")
	limit := fs.Int("limit", 50, "calls per page")
	cursor := fs.String("cursor", "", "continue a listing where the last page's next cursor points")
	format := fs.String("format", "text", "text or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *token == "" || fs.NArg() > 1 || (*format != "text" && *format != "json") {
		fmt.Fprintln(env.stderr, "earshot calls: need --token, at most one CALL_ID, --format text or json")
		return errUsage
	}
	api := restClient{base: *base, token: *token, http: &http.Client{Timeout: 30 * time.Second}}
	if fs.NArg() == 1 {
		b, err := api.get(ctx, "/v1/calls/"+url.PathEscape(fs.Arg(0)))
		if err != nil {
			return err
		}
		_, err = env.stdout.Write(append(b, '\n'))
		return err
	}
	q := url.Values{}
	for k, v := range map[string]string{"agent": *agent, "from": *from, "to": *to, "category": *category, "cursor": *cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("limit", fmt.Sprint(*limit))
	b, err := api.get(ctx, "/v1/calls?"+q.Encode())
	if err != nil {
		return err
	}
	if *format == "json" {
		_, err = env.stdout.Write(b)
		return err
	}
	return writeCallPage(env.stdout, b)
}

// restClient is a client of a running engine's REST API.
type restClient struct {
	base, token string
	http        *http.Client
}

// get returns the body of a GET of path, an error for any status but 200.
func (c restClient) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(c.base, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d %s", path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// writeCallPage prints a GET /v1/calls page as a table.
func writeCallPage(w io.Writer, b []byte) error {
	var page struct {
		Calls []struct {
			ID         string    `json:"id"`
			AgentID    string    `json:"agent_id"`
			StartedAt  time.Time `json:"started_at"`
			DurationS  float64   `json:"duration_s"`
			Status     string    `json:"status"`
			Categories []string  `json:"categories"`
			Sentiment  struct {
				Caller float64 `json:"caller"`
			} `json:"sentiment"`
			Hints int `json:"hints"`
		} `json:"calls"`
		NextCursor string `json:"next_cursor"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		return fmt.Errorf("calls: %w", err)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAGENT\tSTARTED\tDURATION\tSTATUS\tCALLER SENTIMENT\tHINTS\tCATEGORIES")
	for _, c := range page.Calls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1fs\t%s\t%+.2f\t%d\t%s\n", c.ID, c.AgentID, c.StartedAt.Local().Format("2006-01-02 15:04:05"),
			c.DurationS, c.Status, c.Sentiment.Caller, c.Hints, strings.Join(c.Categories, ","))
	}
	if page.NextCursor != "" {
		fmt.Fprintf(tw, "(more: --cursor %s)\n", page.NextCursor)
	}
	return tw.Flush()
}
