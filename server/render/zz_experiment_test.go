package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

func BenchmarkZZParts(b *testing.B) {
	r := New()
	in := shortPost
	var buf bytes.Buffer
	b.Run("convert", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			r.md.Convert([]byte(in), &buf)
		}
	})
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			src := []byte(in)
			r.md.Parser().Parse(text.NewReader(src))
		}
	})
	b.Run("parse-ctx", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			src := []byte(in)
			r.md.Parser().Parse(text.NewReader(src), parser.WithContext(parser.NewContext()))
		}
	})
	out := buf.String()
	b.Run("sanitize", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var sb strings.Builder
			r.policy.SanitizeReaderToWriter(strings.NewReader(out), &sb)
		}
	})
	nolink := goldmark.New(goldmark.WithParser(newParser()), goldmark.WithExtensions(boundedTable{}, limits{}, extension.Strikethrough, extension.TaskList))
	b.Run("convert-nolinkify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			nolink.Convert([]byte(in), &buf)
		}
	})
	b.Run("validutf8", func(b *testing.B) {
		for b.Loop() {
			_ = strings.ToValidUTF8(mediumPost, "\uFFFD")
		}
	})
}
