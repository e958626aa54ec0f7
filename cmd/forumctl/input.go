package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// enumFlag maps the words a flag accepts to enum value names.
func enumFlag(flag, value string, words map[string]string) (string, error) {
	if v, ok := words[strings.ToLower(value)]; ok {
		return v, nil
	}
	return "", usagef("--%s %q: use one of %s", flag, value, strings.Join(slices.Sorted(maps.Keys(words)), ", "))
}

// readBody returns the body given by --body or --body-file (a path, or -
// for standard input), and whether one was given.
func (a *app) readBody(text, file string, textSet bool) (string, bool, error) {
	switch {
	case textSet && file != "":
		return "", false, usagef("give --body or --body-file, not both")
	case textSet:
		return text, true, nil
	case file == "-":
		data, err := io.ReadAll(a.stdin)
		if err != nil {
			return "", false, fmt.Errorf("read the body from standard input: %w", err)
		}
		return string(data), true, nil
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return "", false, fmt.Errorf("read the body: %w", err)
		}
		return string(data), true, nil
	}
	return "", false, nil
}

// requireBody is readBody for a command that needs a body: without one it
// returns a usage error that asks for the what.
func (a *app) requireBody(text, file string, textSet bool, what string) (string, error) {
	body, ok, err := a.readBody(text, file, textSet)
	if err == nil && !ok {
		err = usagef("give the %s with --body or --body-file (- for standard input)", what)
	}
	return body, err
}

// addBodyFlags adds --body and --body-file.
func addBodyFlags(cmd *cobra.Command, text, file *string, what string) {
	cmd.Flags().StringVar(text, "body", "", "the "+what+" in Markdown")
	cmd.Flags().StringVar(file, "body-file", "", "read the "+what+" (Markdown) from this file; - reads standard input")
}
