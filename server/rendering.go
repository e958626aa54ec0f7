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
