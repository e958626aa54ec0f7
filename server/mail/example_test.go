package mail_test

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/forumhq/forum/server/mail"
)

func ExampleSigner() {
	key := []byte("an example key of 32 bytes or more, from the config")
	s, err := mail.NewSigner(key)
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	token := s.Token("42", mail.ScopeDigest, now.Add(30*24*time.Hour))
	link := "https://forum.example.org/unsubscribe?t=" + token

	user, scope, err := s.Verify(token, now)
	fmt.Println(user, scope, err, len(link) < 150)

	_, _, err = s.Verify(token, now.Add(31*24*time.Hour))
	fmt.Println(errors.Is(err, mail.ErrTokenExpired))
	// Output:
	// 42 digest <nil> true
	// true
}

func ExampleImmediate() {
	it := mail.Item{
		Kind:        mail.KindReply,
		Actor:       "Ana",
		ThreadTitle: "Séminaire",
		Excerpt:     "Le séminaire commence à 14 h.",
		URL:         "https://forum.example.org/threads/7/replies/3",
	}
	links := mail.Links{
		Settings:    "https://forum.example.org/settings/email",
		Unsubscribe: "https://forum.example.org/unsubscribe?t=TOKEN",
	}
	subject, text, _, err := mail.Immediate("en", "Bruno", it, links)
	if err != nil {
		panic(err)
	}
	fmt.Println(subject)
	fmt.Println()
	// The footer follows the signature separator, "-- " (with its space).
	body, footer, _ := strings.Cut(text, "\n\n-- \n")
	fmt.Println(body)
	fmt.Println("--")
	fmt.Print(footer)
	// Output:
	// Ana replied to “Séminaire”
	//
	// Hello Bruno,
	//
	// Ana replied to “Séminaire”
	//
	// > Le séminaire commence à 14 h.
	//
	// View the post: https://forum.example.org/threads/7/replies/3
	// --
	// You receive this e-mail because of your notification settings.
	// Change your e-mail settings: https://forum.example.org/settings/email
	// Unsubscribe: https://forum.example.org/unsubscribe?t=TOKEN
}
