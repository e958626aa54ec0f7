package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestIdentityOverJSONAndGRPC drives issue 3's stories through the real
// forumd: the API token lifecycle, session revocation, a cross-origin POST,
// a non-member probing a private theme, and mass assignment through
// update_mask, over JSON and gRPC.
func TestIdentityOverJSONAndGRPC(t *testing.T) {
	data := t.TempDir()
	const pw = "a long enough password"
	mustCreateUserCLI(t, data, "admin", "Admin", "admin", pw)
	p := startForumd(t, data, noRateLimits)
	h := p.jsonAPI(t)
	g := p.dial(t)

	login := func(username string) string {
		var r struct{ Token string }
		if err := json.Unmarshal(h.must(t, "POST", "/v1/auth:login", "", map[string]string{"username": username, "password": pw}, 200), &r); err != nil || r.Token == "" {
			t.Fatalf("login %s: %v", username, err)
		}
		return r.Token
	}
	admin := login("admin")
	var users = map[string]string{}
	for _, u := range []struct{ name, role string }{{"conv", "ROLE_CONVENER"}, {"amina", "ROLE_MEMBER"}, {"boris", "ROLE_MEMBER"}} {
		var out struct{ Name string }
		json.Unmarshal(h.must(t, "POST", "/v1/users", admin, map[string]any{"user": map[string]string{"username": u.name, "displayName": u.name, "role": u.role}, "password": pw}, 200), &out)
		users[u.name] = out.Name
	}
	conv, amina, boris := login("conv"), login("amina"), login("boris")

	t.Run("token lifecycle", func(t *testing.T) {
		var tok struct{ Name, Token string }
		json.Unmarshal(h.must(t, "POST", "/v1/users/me/tokens", amina, map[string]any{"displayName": "script", "scopes": []string{"TOKEN_SCOPE_READ"}}, 200), &tok)
		if !strings.HasPrefix(tok.Token, "fgt_") {
			t.Fatalf("token %q", tok.Token)
		}
		// Used over JSON and gRPC; a READ token cannot write.
		h.must(t, "GET", "/v1/users/me", tok.Token, nil, 200)
		ctx, cancel := callCtx(t.Context(), tok.Token)
		defer cancel()
		if _, err := g.users.GetUser(ctx, &forumv1.GetUserRequest{Name: "users/me"}); err != nil {
			t.Fatalf("gRPC with the token: %v", err)
		}
		h.must(t, "POST", "/v1/threads", tok.Token, map[string]string{"theme": "themes/knowledge-exchange", "title": "x"}, 403)
		if _, err := g.threads.CreateThread(ctx, &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "x"}}); status.Code(err) != codes.PermissionDenied {
			t.Fatalf("gRPC write with a READ token: %v", err)
		}
		// A token cannot mint tokens; the listing hides secrets.
		h.must(t, "POST", "/v1/users/me/tokens", tok.Token, map[string]any{"displayName": "x", "scopes": []string{"TOKEN_SCOPE_READ"}}, 403)
		if body := h.must(t, "GET", "/v1/users/me/tokens", amina, nil, 200); strings.Contains(string(body), tok.Token) || !strings.Contains(string(body), "tokenPrefix") {
			t.Fatalf("token listing: %s", body)
		}
		// Revoked: refused at once over both doors. An expired one too.
		h.must(t, "DELETE", "/v1/"+tok.Name, amina, nil, 200)
		h.must(t, "GET", "/v1/users/me", tok.Token, nil, 401)
		if _, err := g.users.GetUser(ctx, &forumv1.GetUserRequest{Name: "users/me"}); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("gRPC with a revoked token: %v", err)
		}
		h.must(t, "POST", "/v1/users/me/tokens", amina, map[string]any{"displayName": "x", "scopes": []string{"TOKEN_SCOPE_READ"}, "expireTime": "2001-01-01T00:00:00Z"}, 400)
	})

	t.Run("session revocation", func(t *testing.T) {
		s1, s2 := login("boris"), login("boris")
		h.must(t, "POST", "/v1/auth:logout", s1, map[string]string{}, 200)
		h.must(t, "GET", "/v1/users/me", s1, nil, 401)
		h.must(t, "GET", "/v1/users/me", s2, nil, 200)
		h.must(t, "POST", "/v1/auth:changePassword", s2, map[string]string{"oldPassword": pw, "newPassword": pw + "!"}, 200)
		for _, s := range []string{s2, boris} {
			h.must(t, "GET", "/v1/users/me", s, nil, 401)
		}
		h.must(t, "POST", "/v1/auth:login", "", map[string]string{"username": "boris", "password": pw}, 401)
	})

	t.Run("cross-origin POST", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", h.base+"/v1/threads", strings.NewReader(`{"theme":"themes/knowledge-exchange","title":"csrf"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.AddCookie(&http.Cookie{Name: "__Host-forum_session", Value: amina})
		resp, err := h.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("cross-origin POST with the session cookie: %d", resp.StatusCode)
		}
	})

	t.Run("private theme", func(t *testing.T) {
		h.must(t, "POST", "/v1/groups?groupId=wg", conv, map[string]any{"displayName": "WG", "members": []string{users["amina"]}}, 200)
		h.must(t, "POST", "/v1/themes?themeId=wg-only", conv, map[string]any{"displayName": "WG only", "visibility": "THEME_VISIBILITY_GROUPS", "groups": []string{"groups/wg"}}, 200)
		var th struct{ Name string }
		json.Unmarshal(h.must(t, "POST", "/v1/threads", amina, map[string]any{"theme": "themes/wg-only", "title": "Inside", "tags": []string{"secret"}}, 200), &th)
		var rep struct{ Name string }
		json.Unmarshal(h.must(t, "POST", "/v1/"+th.Name+"/replies", amina, map[string]string{"body": "inner"}, 200), &rep)
		var eve struct{ Name string }
		json.Unmarshal(h.must(t, "POST", "/v1/users", admin, map[string]any{"user": map[string]string{"username": "eve", "displayName": "Eve"}, "password": pw}, 200), &eve)
		for _, who := range []string{login("eve"), ""} {
			for _, path := range []string{"/v1/themes/wg-only", "/v1/" + th.Name, "/v1/" + th.Name + "/replies", "/v1/" + rep.Name, "/v1/groups/wg"} {
				h.must(t, "GET", path, who, nil, 404)
			}
			for _, path := range []string{"/v1/themes?pageSize=100", "/v1/threads?pageSize=100", "/v1/threads?filter=tag%3Dsecret", "/v1/threads?filter=theme%3Dwg-only", "/v1/groups"} {
				if body := h.must(t, "GET", path, who, nil, 200); strings.Contains(string(body), "wg-only") || strings.Contains(string(body), "Inside") {
					t.Errorf("%s lists the private theme: %s", path, body)
				}
			}
		}
		h.must(t, "GET", "/v1/"+th.Name, amina, nil, 200)
	})

	t.Run("mass assignment", func(t *testing.T) {
		h.must(t, "PATCH", "/v1/users/me", amina, map[string]string{"role": "ROLE_ADMIN"}, 400) // users/me is not a name for updates
		h.must(t, "PATCH", "/v1/"+users["amina"], amina, map[string]string{"role": "ROLE_ADMIN"}, 403)
		h.must(t, "PATCH", "/v1/"+users["boris"], amina, map[string]string{"displayName": "pwned"}, 403)
		h.must(t, "POST", "/v1/organizations?organizationId=nvp", conv, map[string]any{"displayName": "NVP", "country": "KE", "kind": "ORGANIZATION_KIND_NGO"}, 200)
		h.must(t, "PATCH", "/v1/"+users["boris"], amina, map[string]string{"organization": "organizations/nvp"}, 403)
		var th struct{ Name string }
		json.Unmarshal(h.must(t, "POST", "/v1/threads", amina, map[string]any{"theme": "themes/knowledge-exchange", "title": "Mine"}, 200), &th)
		h.must(t, "PATCH", "/v1/"+th.Name, amina, map[string]any{"author": users["conv"]}, 400)
		h.must(t, "PATCH", "/v1/"+th.Name, amina, map[string]any{"replyCount": 99}, 400)
		h.must(t, "PATCH", "/v1/"+th.Name, amina, map[string]any{"pinned": true}, 403)
		var got struct {
			Author     string
			ReplyCount string
			Pinned     bool
		}
		json.Unmarshal(h.must(t, "GET", "/v1/"+th.Name, "", nil, 200), &got)
		if got.Author != users["amina"] || got.ReplyCount != "" || got.Pinned {
			t.Fatalf("the thread changed: %+v", got)
		}
	})
}
