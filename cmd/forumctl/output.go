package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	forumv1 "github.com/forumhq/forum/gen/forum/v1"
)

// Output formats of -o.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
)

// addOutputFlag adds -o/--output to cmd, stored in *format, and refuses an
// unknown format before cmd's own code runs.
func addOutputFlag(cmd *cobra.Command, format *string) {
	cmd.Flags().StringVarP(format, "output", "o", formatTable, "output format: table, json or yaml (json and yaml use the API's field names)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{formatTable, formatJSON, formatYAML}, cobra.ShellCompDirectiveNoFileComp))
	cmd.PreRunE = func(*cobra.Command, []string) error { return checkFormat(*format) }
}

// checkFormat returns a usage error unless format is one of -o's.
func checkFormat(format string) error {
	switch format {
	case formatTable, formatJSON, formatYAML:
		return nil
	}
	return usagef("unknown output format %q: use table, json or yaml", format)
}

// marshalOptions is how API objects are written as JSON: as the HTTP API
// writes them (lowerCamelCase names, unset fields left out).
var marshalOptions = protojson.MarshalOptions{}

// protoJSON returns m as JSON.
func protoJSON(m proto.Message) json.RawMessage {
	data, err := marshalOptions.Marshal(m)
	if err != nil {
		// Only invalid UTF-8 or unknown Any types fail, neither of which
		// the API returns.
		panic(fmt.Sprintf("marshal %T: %v", m, err))
	}
	return data
}

// writeData writes v (an API message, or a value built of json.RawMessage
// pieces) as indented JSON or as YAML.
func writeData(w io.Writer, format string, v any) error {
	var raw []byte
	if m, ok := v.(proto.Message); ok {
		raw = protoJSON(m)
	} else {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return err
		}
	}
	switch format {
	case formatYAML:
		out, err := jsonToYAML(raw)
		if err != nil {
			return err
		}
		_, err = w.Write(out)
		return err
	default:
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := w.Write(buf.Bytes())
		return err
	}
}

// jsonToYAML converts JSON to block-style YAML, keeping the order of keys.
func jsonToYAML(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var plain func(n *yaml.Node)
	plain = func(n *yaml.Node) {
		n.Style = 0 // JSON arrives in flow style with quoted strings
		for _, c := range n.Content {
			plain(c)
		}
	}
	plain(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// newTable returns a tabwriter for aligned columns; Flush it.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// row writes one tab-separated row, with tabs and newlines in cells turned
// into spaces.
func row(w io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// timeText formats a timestamp in local time, or "-" if it is unset.
func timeText(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().In(time.Local).Format("2006-01-02 15:04")
}

// timeZoneText formats a timestamp in local time with the zone, for
// reports.
func timeZoneText(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().In(time.Local).Format("2006-01-02 15:04 MST")
}

// enumWord turns an enum value name into a word: THREAD_KIND_FOLLOW_UP with
// prefix THREAD_KIND_ becomes "follow-up".
func enumWord(name, prefix string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, prefix)), "_", "-")
}

func kindWord(k forumv1.ThreadKind) string   { return enumWord(k.String(), "THREAD_KIND_") }
func stateWord(s forumv1.ThreadState) string { return enumWord(s.String(), "THREAD_STATE_") }
func roleWord(r forumv1.Role) string         { return enumWord(r.String(), "ROLE_") }
