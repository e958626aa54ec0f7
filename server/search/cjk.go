package search

import (
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	unitokenizer "github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/registry"
)

// bleve's CJK analyser makes bigrams of Han and Kana only: its tokenizer
// gives Hangul whole words (서울에서, "in Seoul"), typed as letters, which
// its bigram filter passes through as they are, so 서울 does not find
// 서울에서: Korean particles attach to the word. cjkAnalyzer is bleve's
// analyser with one filter more, hangulIdeographic, which types the
// tokens that hold Hangul as ideographic, so that the bigram filter cuts
// them into bigrams as it does Han: 서울에서 becomes 서울 울에 에서.

// Names of the analyser and the filter in bleve's registry.
const (
	cjkAnalyzer       = "forum_cjk"
	hangulIdeographic = "forum_hangul_ideographic"
)

func init() {
	registry.RegisterTokenFilter(hangulIdeographic, func(map[string]any, *registry.Cache) (analysis.TokenFilter, error) {
		return hangulFilter{}, nil
	})
	registry.RegisterAnalyzer(cjkAnalyzer, func(_ map[string]any, cache *registry.Cache) (analysis.Analyzer, error) {
		tokenizer, err := cache.TokenizerNamed(unitokenizer.Name)
		if err != nil {
			return nil, err
		}
		var filters []analysis.TokenFilter
		for _, name := range []string{cjk.WidthName, lowercase.Name, hangulIdeographic, cjk.BigramName} {
			f, err := cache.TokenFilterNamed(name)
			if err != nil {
				return nil, err
			}
			filters = append(filters, f)
		}
		return &analysis.DefaultAnalyzer{Tokenizer: tokenizer, TokenFilters: filters}, nil
	})
}

// hangulFilter types the tokens that hold Hangul as ideographic.
type hangulFilter struct{}

func (hangulFilter) Filter(input analysis.TokenStream) analysis.TokenStream {
	for _, t := range input {
		if t.Type != analysis.Ideographic && hasHangul(t.Term) {
			t.Type = analysis.Ideographic
		}
	}
	return input
}

func hasHangul(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if unicode.Is(unicode.Hangul, r) {
			return true
		}
		b = b[n:]
	}
	return false
}
