package server

import (
	"errors"
	"fmt"
	"strings"

	"github.com/forumhq/forum/internal/errs"
	"github.com/forumhq/forum/server/render"
)

// renderError is the error of a post whose body, field, did not render:
// INVALID_ARGUMENT on field when its HTML would be too large
// (render.ErrTooLarge), an internal error otherwise.
func renderError(field string, err error) error {
	if errors.Is(err, render.ErrTooLarge) {
		what := strings.TrimPrefix(err.Error(), render.ErrTooLarge.Error()+": ")
		return errs.InvalidField(field, "renders to too much HTML (%s); use fewer bare links or e-mail addresses, or split the post", what)
	}
	return fmt.Errorf("render %s: %w", field, err)
}

// renderBody renders body, the Markdown of a post's field, to its HTML:
// INVALID_ARGUMENT on field when it renders to too much HTML, or when it
// mentions more than render.MaxMentions names.
func (s *Server) renderBody(field, body string) (string, error) {
	html, mentions, err := s.render.Post(body)
	if err != nil {
		return "", renderError(field, err)
	}
	if len(mentions) > render.MaxMentions {
		return "", errs.InvalidField(field, "mentions %d people or groups; a post may mention at most %d", len(mentions), render.MaxMentions)
	}
	return html, nil
}
