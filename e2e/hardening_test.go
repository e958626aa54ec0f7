package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// fromAddress returns a JSON client of p whose connections come from the
// loopback address local (any of 127.0.0.0/8 on Linux), so that forumd
// sees a client address of its own.
func fromAddress(t *testing.T, p *forumd, local string) *httpAPI {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	tr := &http.Transport{DialContext: d.DialContext, Proxy: nil}
	t.Cleanup(tr.CloseIdleConnections)
	return &httpAPI{base: "http://" + p.HTTPAddr, c: &http.Client{Timeout: httpTimeout, Transport: tr}}
}

// TestHardeningOverBothDoors checks three of issue 12's defects on the real
// forumd, with its default rate limits, over JSON and gRPC: a stranger's
// wrong passwords from one address do not lock the owner out from another
// (5); the last active admin cannot demote or suspend themself (6); names
// and titles refuse invisible and direction-changing characters (8).
func TestHardeningOverBothDoors(t *testing.T) {
	data := t.TempDir()
	const pw = "a long enough password"
	mustCreateUserCLI(t, data, "admin", "Admin", "admin", pw)
	mustCreateUserCLI(t, data, "amina", "Amina", "member", pw)
	p := startForumd(t, data)
	owner := fromAddress(t, p, "127.0.0.1")
	stranger := fromAddress(t, p, "127.0.0.2")
	login := func(h *httpAPI, username, password string) (int, string) {
		ctx, cancel := context.WithTimeout(t.Context(), httpTimeout)
		defer cancel()
		body, _ := json.Marshal(map[string]string{"username": username, "password": password})
		code, resp, err := h.do(ctx, "POST", "/v1/auth:login", "", body)
		if err != nil {
			t.Fatal(err)
		}
		var r struct{ Token string }
		json.Unmarshal(resp, &r)
		return code, r.Token
	}

	t.Run("a stranger cannot lock the owner out", func(t *testing.T) {
		refused := 0
		for range 15 {
			if code, _ := login(stranger, "amina", "a wrong password!"); code == http.StatusTooManyRequests {
				refused++
			}
		}
		if refused == 0 {
			t.Errorf("15 wrong passwords from one address were never throttled")
		}
		if code, tok := login(owner, "amina", pw); code != http.StatusOK || tok == "" {
			t.Errorf("the owner's login over JSON from another address: %d", code)
		}
		// And over gRPC, from that other address too.
		conn, err := grpc.NewClient(p.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
				d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}}
				return d.DialContext(ctx, "tcp", addr)
			}))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := callCtx(t.Context(), "")
		defer cancel()
		if _, err := forumv1.NewAuthServiceClient(conn).Login(ctx, &forumv1.LoginRequest{Username: "amina", Password: pw}); err != nil {
			t.Errorf("the owner's login over gRPC from another address: %v", err)
		}
	})

	_, admin := login(owner, "admin", pw)
	_, amina := login(owner, "amina", pw)
	var me struct{ Name string }
	json.Unmarshal(owner.must(t, "GET", "/v1/users/me", admin, nil, http.StatusOK), &me)

	t.Run("the last admin stays", func(t *testing.T) {
		for _, change := range []map[string]any{{"role": "ROLE_MEMBER"}, {"state": "USER_STATE_SUSPENDED"}} {
			var field string
			for f := range change {
				field = f
			}
			body := owner.must(t, "PATCH", "/v1/"+me.Name+"?updateMask="+field, admin, change, http.StatusBadRequest)
			if !strings.Contains(string(body), "FAILED_PRECONDITION") && !strings.Contains(string(body), `"code":9`) {
				t.Errorf("the last admin's own %s change: %s, want FAILED_PRECONDITION", field, body)
			}
			ctx, cancel := callCtx(t.Context(), admin)
			u := &forumv1.User{Name: me.Name, Role: forumv1.Role_ROLE_MEMBER}
			if field == "state" {
				u = &forumv1.User{Name: me.Name, State: forumv1.UserState_USER_STATE_SUSPENDED}
			}
			_, err := p.dial(t).users.UpdateUser(ctx, &forumv1.UpdateUserRequest{User: u, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{field}}})
			cancel()
			if status.Code(err) != codes.FailedPrecondition {
				t.Errorf("over gRPC, the last admin's own %s change: %v", field, err)
			}
		}
		var after struct{ Role, State string }
		json.Unmarshal(owner.must(t, "GET", "/v1/users/me", admin, nil, http.StatusOK), &after)
		if after.Role != "ROLE_ADMIN" || after.State == "USER_STATE_SUSPENDED" {
			t.Errorf("after the refusals: %+v", after)
		}
	})

	t.Run("invisible characters in names", func(t *testing.T) {
		var am struct{ Name string }
		json.Unmarshal(owner.must(t, "GET", "/v1/users/me", amina, nil, http.StatusOK), &am)
		for _, bad := range []string{"\u200b\u200b\u200b", "invoice\u202egnp.exe"} {
			for _, c := range []struct {
				method, path, field string
				body                map[string]string
			}{
				{"POST", "/v1/threads", "thread.title", map[string]string{"theme": "themes/knowledge-exchange", "title": bad}},
				{"PATCH", "/v1/" + am.Name + "?updateMask=display_name", "user.display_name", map[string]string{"displayName": bad}},
			} {
				body := owner.must(t, c.method, c.path, amina, c.body, http.StatusBadRequest)
				if !strings.Contains(string(body), c.field) {
					t.Errorf("%s %s with %q: %s, want a violation of %s", c.method, c.path, bad, body, c.field)
				}
			}
		}
		ctx, cancel := callCtx(t.Context(), amina)
		defer cancel()
		_, err := p.dial(t).threads.CreateThread(ctx, &forumv1.CreateThreadRequest{Thread: &forumv1.Thread{Theme: "themes/knowledge-exchange", Title: "invoice\u202egnp.exe"}})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("over gRPC, a title with U+202E: %v", err)
		}
	})
}
