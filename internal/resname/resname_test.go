package resname_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/forumhq/forum/internal/resname"
)

// TestRoundTrip parses good names and gives them back with String.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func(string) (fmt.Stringer, error)
	}{
		{"themes/knowledge-exchange", func(s string) (fmt.Stringer, error) { return resname.ParseTheme(s) }},
		{"groups/koica", func(s string) (fmt.Stringer, error) { return resname.ParseGroup(s) }},
		{"organizations/unv-2", func(s string) (fmt.Stringer, error) { return resname.ParseOrganization(s) }},
		{"threads/18446744073709551615", func(s string) (fmt.Stringer, error) { return resname.ParseThread(s) }},
		{"threads/7/replies/12", func(s string) (fmt.Stringer, error) { return resname.ParseReply(s) }},
		{"users/3", func(s string) (fmt.Stringer, error) { return resname.ParseUser(s) }},
		{"users/3/tokens/9", func(s string) (fmt.Stringer, error) { return resname.ParseAPIToken(s) }},
		{"invitations/1", func(s string) (fmt.Stringer, error) { return resname.ParseInvitation(s) }},
		{"users/3/subscriptions/thread-7", func(s string) (fmt.Stringer, error) { return resname.ParseSubscription(s) }},
		{"users/3/subscriptions/theme-knowledge-exchange", func(s string) (fmt.Stringer, error) { return resname.ParseSubscription(s) }},
		{"users/3/notifications/42", func(s string) (fmt.Stringer, error) { return resname.ParseNotification(s) }},
	} {
		got, err := tc.parse(tc.name)
		if err != nil || got.String() != tc.name {
			t.Errorf("parse(%q) = %v, %v", tc.name, got, err)
		}
	}
	if n, err := resname.SubscriptionTo(resname.User{ID: 3}, "themes/kx"); err != nil || n.String() != "users/3/subscriptions/theme-kx" || n.Target() != "themes/kx" {
		t.Errorf("SubscriptionTo(themes/kx) = %v, %v", n, err)
	}
	if n, err := resname.SubscriptionTo(resname.User{ID: 3}, "threads/9"); err != nil || n.String() != "users/3/subscriptions/thread-9" || n.Target() != "threads/9" {
		t.Errorf("SubscriptionTo(threads/9) = %v, %v", n, err)
	}
	if _, err := resname.SubscriptionTo(resname.User{ID: 3}, "groups/g"); err == nil {
		t.Error("SubscriptionTo(groups/g) did not fail")
	}
	r, _ := resname.ParseReply("threads/7/replies/12")
	if r != (resname.Reply{Thread: resname.Thread{ID: 7}, ID: 12}) {
		t.Errorf("ParseReply gave %+v", r)
	}
}

// TestBadNames refuses what is not a name of the kind, with an error that
// names the kind expected.
func TestBadNames(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		parse      func(string) error
	}{
		{"threads/0", "thread name", func(s string) error { _, err := resname.ParseThread(s); return err }},
		{"threads/07", "thread name", func(s string) error { _, err := resname.ParseThread(s); return err }},
		{"threads/+7", "thread name", func(s string) error { _, err := resname.ParseThread(s); return err }},
		{"threads/ 7", "thread name", func(s string) error { _, err := resname.ParseThread(s); return err }},
		{"threads/18446744073709551616", "thread name", func(s string) error { _, err := resname.ParseThread(s); return err }},
		{"threads/", "thread name", func(s string) error { _, err := resname.ParseThread(s); return err }},
		{"thread/7", "thread name", func(s string) error { _, err := resname.ParseThread(s); return err }},
		{"threads/7/replies/", "reply name", func(s string) error { _, err := resname.ParseReply(s); return err }},
		{"threads/x/replies/1", "reply name", func(s string) error { _, err := resname.ParseReply(s); return err }},
		{"threads/7/replies/1/x", "reply name", func(s string) error { _, err := resname.ParseReply(s); return err }},
		{"users/me", "user name", func(s string) error { _, err := resname.ParseUser(s); return err }},
		{"users/1/tokens/0", "API token name", func(s string) error { _, err := resname.ParseAPIToken(s); return err }},
		{"themes/Upper", "theme name", func(s string) error { _, err := resname.ParseTheme(s); return err }},
		{"themes/a--b", "theme name", func(s string) error { _, err := resname.ParseTheme(s); return err }},
		{"themes/-a", "theme name", func(s string) error { _, err := resname.ParseTheme(s); return err }},
		{"themes/" + strings.Repeat("a", 64), "theme name", func(s string) error { _, err := resname.ParseTheme(s); return err }},
		{"groups/é", "group name", func(s string) error { _, err := resname.ParseGroup(s); return err }},
		{"organizations/", "organization name", func(s string) error { _, err := resname.ParseOrganization(s); return err }},
		{"invitations/abc", "invitation name", func(s string) error { _, err := resname.ParseInvitation(s); return err }},
		{"users/3/subscriptions/threads-7", "subscription name", func(s string) error { _, err := resname.ParseSubscription(s); return err }},
		{"users/3/subscriptions/thread-07", "subscription name", func(s string) error { _, err := resname.ParseSubscription(s); return err }},
		{"users/3/subscriptions/theme-Upper", "subscription name", func(s string) error { _, err := resname.ParseSubscription(s); return err }},
		{"users/me/subscriptions/thread-7", "subscription name", func(s string) error { _, err := resname.ParseSubscription(s); return err }},
		{"users/3/notifications/0", "notification name", func(s string) error { _, err := resname.ParseNotification(s); return err }},
		{"users/3/notifications/", "notification name", func(s string) error { _, err := resname.ParseNotification(s); return err }},
	} {
		err := tc.parse(tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse(%q) = %v, want an error naming a %s", tc.name, err, tc.want)
		}
	}
	if !resname.ValidSlug(strings.Repeat("a", 63), resname.MaxSlugLen) || resname.ValidSlug("", 10) {
		t.Error("ValidSlug bounds")
	}
}

// FuzzParseThread checks that whatever parses gives itself back.
func FuzzParseThread(f *testing.F) {
	for _, s := range []string{"threads/1", "threads/0", "threads/99999999999999999999", "threads/7/replies/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if th, err := resname.ParseThread(s); err == nil && th.String() != s {
			t.Errorf("ParseThread(%q).String() = %q", s, th.String())
		} else if b, _ := th.AppendText([]byte("x")); err == nil && string(b) != "x"+s {
			t.Errorf("ParseThread(%q).AppendText(x) = %q", s, b)
		}
		if r, err := resname.ParseReply(s); err == nil && r.String() != s {
			t.Errorf("ParseReply(%q).String() = %q", s, r.String())
		}
	})
}

func ExampleParseReply() {
	r, err := resname.ParseReply("threads/7/replies/12")
	fmt.Println(r.Thread.ID, r.ID, r, err)
	_, err = resname.ParseReply("threads/7")
	fmt.Println(err)
	// Output:
	// 7 12 threads/7/replies/12 <nil>
	// "threads/7" is not a reply name (threads/{thread}/replies/{reply})
}

// TestValidSlug and its thread names are the cases the store's tests held
// while the store parsed names itself.
func TestValidSlug(t *testing.T) {
	for _, tc := range []struct {
		s  string
		ok bool
	}{{"a", true}, {"south-south", true}, {"a1-b2", true}, {"", false}, {"-a", false}, {"a-", false}, {"a--b", false}, {"A", false}, {"a_b", false}, {"é", false}} {
		if resname.ValidSlug(tc.s, resname.MaxSlugLen) != tc.ok {
			t.Errorf("ValidSlug(%q) = %v", tc.s, !tc.ok)
		}
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"threads/1", true}, {"threads/18446744073709551615", true}, {"threads/0", false}, {"threads/01", false}, {"threads/-1", false}, {"threads/1a", false}, {"threads/18446744073709551616", false}, {"themes/1", false}} {
		if _, err := resname.ParseThread(tc.name); (err == nil) != tc.ok {
			t.Errorf("ParseThread(%q) = %v", tc.name, err)
		}
	}
}
