package forumdtest_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/forumhq/forum/internal/forumdtest"
)

var forumdBin string

func TestMain(m *testing.M) {
	os.Exit(forumdtest.RunWithBinaries(m, map[string]*string{"./cmd/forumd": &forumdBin}))
}

const password = "a long enough password"

// post sends a JSON POST and returns the status and body.
func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestModes runs one set of Options in both modes, with FORUM_* variables
// in the environment that would break forumd or change its settings if it
// read them: neither mode does, and both apply the Options alike.
func TestModes(t *testing.T) {
	// forumd refuses to start on the first two whatever its flags say.
	t.Setenv("FORUM_REFLECTION", "maybe")
	t.Setenv("FORUM_GC_PERCENT", "lots")
	t.Setenv("FORUM_RATE_LIMITS", "not a spec")
	t.Setenv("FORUM_SELF_REGISTRATION", "false")
	if env := forumdtest.Env(); slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "FORUM_") }) {
		t.Errorf("Env() holds FORUM_ variables")
	}
	opts := forumdtest.Options{
		RateLimits:       "off",
		SelfRegistration: true,
		Users:            []forumdtest.User{{Username: "amina", Role: "convener", Password: password}},
	}
	for _, mode := range []struct {
		name  string
		start func(t *testing.T) *forumdtest.Server
	}{
		{"binary", func(t *testing.T) *forumdtest.Server { return forumdtest.StartProcess(t, forumdBin, t.TempDir(), opts) }},
		{"in process", func(t *testing.T) *forumdtest.Server { return forumdtest.StartInProcess(t, t.TempDir(), opts) }},
	} {
		t.Run(mode.name, func(t *testing.T) {
			s := mode.start(t)
			if (s.App() != nil) != (mode.name == "in process") {
				t.Errorf("App() = %v", s.App())
			}
			if code := s.ExitCode(); code != -1 {
				t.Errorf("ExitCode while serving: %d", code)
			}
			base := "http://" + s.HTTPAddr
			// The user of Options.Users logs in.
			if code, body := post(t, base+"/v1/auth:login", fmt.Sprintf(`{"username":"amina","password":%q}`, password)); code != http.StatusOK ||
				!strings.Contains(body, `"role":"ROLE_CONVENER"`) {
				t.Errorf("login: %d %s", code, body)
			}
			// Self-registration is on, as the Options say (not as the
			// environment does).
			if code, body := post(t, base+"/v1/auth:register", fmt.Sprintf(`{"username":"bob","displayName":"Bob","password":%q}`, password)); code != http.StatusOK {
				t.Errorf("register: %d %s", code, body)
			}
			s.Stop()
			if code := s.ExitCode(); code != 0 {
				t.Errorf("ExitCode after Stop: %d", code)
			}
			select {
			case <-s.Done():
			default:
				t.Error("Done not closed after Stop")
			}
			if err := s.Terminate(); err != nil {
				t.Errorf("Terminate after Stop: %v", err)
			}
		})
	}
}

// TestLaunchRefused: a forumd that exits before it listens is reported,
// with its exit status and log.
func TestLaunchRefused(t *testing.T) {
	s, err := forumdtest.LaunchProcess(t, forumdBin, t.TempDir(), forumdtest.Options{Args: []string{"--rate-limits", "bogus"}})
	if err == nil {
		t.Fatal("LaunchProcess: no error")
	}
	if s.ExitCode() != 2 || s.ProcessState() == nil || !strings.Contains(s.Log(), "--rate-limits") {
		t.Errorf("exit %d (%v), log %q", s.ExitCode(), s.ProcessState(), s.Log())
	}
}
