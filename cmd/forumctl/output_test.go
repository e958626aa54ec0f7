package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/forumhq/forum/client"
	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// apiObject decodes raw, one object of forumctl's JSON output, strictly as
// the API message m (an unknown field name fails) and checks that it equals
// want, as the API returned it.
func apiObject(t *testing.T, what string, raw json.RawMessage, m, want proto.Message) {
	t.Helper()
	if err := (protojson.UnmarshalOptions{}).Unmarshal(raw, m); err != nil {
		t.Errorf("%s: %s is not the API's JSON: %v", what, raw, err)
		return
	}
	if !proto.Equal(m, want) {
		t.Errorf("%s: decoded %v, the API returns %v", what, m, want)
	}
}

// TestJSONOutput checks that -o json (and yaml) output parses and is the
// API's JSON: every object decodes strictly as its API message and equals
// what the API returns.
func TestJSONOutput(t *testing.T) {
	server := startForum(t)
	u := newUser(t)
	u.login(server, "amina", convenerPassword)
	u.ok("", "threads", "create", "--theme", "joint-programmes", "--title", "Joint programme ideas", "--tag", "health,youth", "--body", "Ideas *welcome*.")
	u.ok("", "reply", "1", "--body", "A first idea.")

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := client.New(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	thread, err := c.ThreadService().GetThread(ctx, &forumv1.GetThreadRequest{Name: "threads/1"})
	if err != nil {
		t.Fatal(err)
	}
	replies, err := c.ReplyService().ListReplies(ctx, &forumv1.ListRepliesRequest{Parent: "threads/1"})
	if err != nil {
		t.Fatal(err)
	}
	themes, err := c.ThemeService().ListThemes(ctx, &forumv1.ListThemesRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}

	// threads show: {"thread": Thread, "replies": [Reply]}, in JSON and YAML.
	for _, format := range []string{"json", "yaml"} {
		out := u.ok("", "threads", "show", "1", "-o", format)
		var show struct {
			Thread  json.RawMessage
			Replies []json.RawMessage
		}
		raw := []byte(out)
		if format == "yaml" {
			raw = yamlToJSON(t, out)
		}
		if err := json.Unmarshal(raw, &show); err != nil {
			t.Fatalf("threads show -o %s: %v\n%s", format, err, out)
		}
		apiObject(t, "threads show -o "+format+" thread", show.Thread, &forumv1.Thread{}, thread)
		if len(show.Replies) != 1 {
			t.Fatalf("threads show -o %s: %d replies", format, len(show.Replies))
		}
		apiObject(t, "threads show -o "+format+" reply", show.Replies[0], &forumv1.Reply{}, replies.GetReplies()[0])
	}

	// The field names are the API's lowerCamelCase JSON names.
	var names map[string]any
	if err := json.Unmarshal([]byte(u.ok("", "threads", "list", "-o", "json")), &names); err != nil {
		t.Fatal(err)
	}
	first := names["threads"].([]any)[0].(map[string]any)
	for _, key := range []string{"name", "theme", "title", "bodyHtml", "author", "kind", "state", "tags", "replyCount", "lastActivityTime", "createTime", "etag"} {
		if _, ok := first[key]; !ok {
			t.Errorf("threads list -o json: thread lacks %q: %v", key, first)
		}
	}

	// Lists are the List response messages.
	apiObject(t, "threads list -o json", json.RawMessage(u.ok("", "threads", "list", "-o", "json")),
		&forumv1.ListThreadsResponse{}, &forumv1.ListThreadsResponse{Threads: []*forumv1.Thread{thread}})
	apiObject(t, "themes list -o json", json.RawMessage(u.ok("", "themes", "list", "-o", "json")),
		&forumv1.ListThemesResponse{}, &forumv1.ListThemesResponse{Themes: themes.GetThemes()})
	apiObject(t, "themes list -o yaml", yamlToJSON(t, u.ok("", "themes", "list", "-o", "yaml")),
		&forumv1.ListThemesResponse{}, &forumv1.ListThemesResponse{Themes: themes.GetThemes()})

	// whoami: the user as users/me returns it.
	if _, err := c.Login(ctx, "amina", convenerPassword); err != nil {
		t.Fatal(err)
	}
	me, err := c.UserService().GetUser(ctx, &forumv1.GetUserRequest{Name: "users/me"})
	if err != nil {
		t.Fatal(err)
	}
	apiObject(t, "whoami -o json", json.RawMessage(u.ok("", "whoami", "-o", "json")), &forumv1.User{}, me)

	// Writes take -o too.
	var resolved forumv1.Thread
	if err := protojson.Unmarshal([]byte(u.ok("", "threads", "resolve", "1", "-o", "json")), &resolved); err != nil ||
		resolved.GetName() != "threads/1" || resolved.GetState() != forumv1.ThreadState_THREAD_STATE_RESOLVED {
		t.Errorf("threads resolve -o json: %v, %v", &resolved, err)
	}
}

// yamlToJSON converts forumctl's YAML output to JSON.
func yamlToJSON(t *testing.T, out string) json.RawMessage {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("YAML output does not parse: %v\n%s", err, out)
	}
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("YAML output %v: %v", v, err)
	}
	return data
}
