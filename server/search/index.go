// Package search is forum's full-text search: a bleve index of every
// thread and reply, kept in its own directory under the data directory and
// fed from the event log, and the query language delegates type
// (ParseQuery).
//
// A post is analysed for the scripts it is written in (scriptsOf): Latin
// text with the English, French and Spanish analysers (stemming and stop
// words), Han, Kana and Hangul with bleve's CJK bigrams (a two-character
// word is found inside a sentence written without spaces), Arabic with
// bleve's Arabic analyser (hamza, alef and ya forms and diacritics
// normalised), and every post with the standard analyser, which finds the
// words of any other script. A query is analysed by each of them and
// matches a post through any, so it matches whichever language it is in,
// without detecting it.
//
// The index records the last revision of the log it applied, in the same
// batch as the changes (Apply), so that after a crash it resumes where its
// last batch ended, never between a change and its record.
package search

import (
	"encoding/binary"
	"errors"
	"fmt"
	"html"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/analysis/lang/ar"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/lang/es"
	"github.com/blevesearch/bleve/v2/analysis/lang/fr"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/token/shingle"
	unitokenizer "github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
)

// The index's fields. The text fields all hold the same text (Post.Text),
// each analysed its own way; "text" stores it, for snippets.
const (
	fieldKind    = "kind"
	fieldThread  = "thread"
	fieldTheme   = "theme"
	fieldAuthor  = "author"
	fieldOrg     = "organization"
	fieldCountry = "country"
	fieldTags    = "tags"
	fieldState   = "state"
	fieldCreated = "create_time"
	fieldText    = "text"
)

// textFields maps each analysed text field to its analyser.
var textFields = []struct{ field, analyzer string }{
	{"t_std", standard.Name},
	{"t_en", en.AnalyzerName},
	{"t_fr", fr.AnalyzerName},
	{"t_es", es.AnalyzerName},
	{"t_cjk", cjkAnalyzer},
	{"t_ar", ar.AnalyzerName},
}

// fieldPairs holds the pairs of adjacent words of a post's text (bleve's
// shingles), unstemmed, stop words kept: a phrase of two words is one term
// there, found as fast as a word, where a phrase query reads the
// positions of both words in every post that has them. Not in textFields:
// it has no locations, and snippets mark a phrase from t_std.
const fieldPairs = "t_pair"

// pairAnalyzer and pairFilter are the analyser of fieldPairs and its
// shingle filter, as the mapping names them.
const (
	pairAnalyzer = "forum_pairs"
	pairFilter   = "forum_pair_shingle"
)

// mappingVersion names the layout of the index below. An index of another
// version is rebuilt from the store (Open reports it as empty).
const mappingVersion = "5" // 5: a locked thread's state also LOCKED

var (
	internalCursor  = []byte("cursor")
	internalVersion = []byte("mapping_version")
	internalBuilt   = []byte("built") // set when a rebuild has finished
)

// newMapping is the index's mapping: keyword fields for filters, the
// creation time, the text analysed six ways, the text stored.
func newMapping() mapping.IndexMapping {
	kw := func() *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Analyzer = keyword.Name
		f.IncludeInAll = false
		f.IncludeTermVectors = false // no locations: snippets come from the text fields
		return f
	}
	doc := bleve.NewDocumentStaticMapping()
	for _, f := range []string{fieldKind, fieldThread, fieldTheme, fieldAuthor, fieldOrg, fieldCountry, fieldTags, fieldState} {
		doc.AddFieldMappingsAt(f, kw())
	}
	created := bleve.NewDateTimeFieldMapping()
	created.IncludeInAll = false
	doc.AddFieldMappingsAt(fieldCreated, created)
	for _, tf := range textFields {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = tf.analyzer
		f.Store = false
		f.IncludeInAll = false
		f.IncludeTermVectors = true // locations, for snippets
		f.DocValues = false
		doc.AddFieldMappingsAt(tf.field, f)
	}
	stored := bleve.NewTextFieldMapping()
	stored.Index = false
	stored.Store = true
	stored.IncludeInAll = false
	stored.IncludeTermVectors = false
	stored.DocValues = false
	doc.AddFieldMappingsAt(fieldText, stored)

	pairs := bleve.NewTextFieldMapping()
	pairs.Analyzer = pairAnalyzer
	pairs.Store = false
	pairs.IncludeInAll = false
	pairs.IncludeTermVectors = false
	pairs.DocValues = false
	doc.AddFieldMappingsAt(fieldPairs, pairs)

	m := bleve.NewIndexMapping()
	// The mapping's own definitions, checked when the index opens: an
	// error here is a mistake in this code.
	if err := m.AddCustomTokenFilter(pairFilter, map[string]any{
		"type": shingle.Name, "min": 2.0, "max": 2.0, "output_original": false, "separator": " ", "filler": "",
	}); err != nil {
		panic(err)
	}
	if err := m.AddCustomAnalyzer(pairAnalyzer, map[string]any{
		"type": custom.Name, "tokenizer": unitokenizer.Name, "token_filters": []any{lowercase.Name, pairFilter},
	}); err != nil {
		panic(err)
	}
	m.DefaultMapping = doc
	m.DefaultAnalyzer = standard.Name
	m.IndexDynamic = false
	m.StoreDynamic = false
	m.DocValuesDynamic = false
	return m
}

// Post is what the index keeps of a thread or a reply.
type Post struct {
	// Name is the post's resource name, `threads/7` or
	// `threads/7/replies/3`: the document's id.
	Name string
	// Thread is the thread's name (a thread's own).
	Thread string
	// Theme is the thread's theme: search shows a post only to who may
	// see it.
	Theme string
	// Author, Organization and Country are the author's name, and their
	// organisation and country when the post was indexed.
	Author, Organization, Country string
	// Kind, State and Tags are the thread's (a reply's thread's): its
	// ThreadKind and ThreadState enum names and its tags. Locked is whether
	// the thread is locked: its state field then also holds
	// THREAD_STATE_LOCKED, so that `state = LOCKED`, from before
	// Thread.locked, finds locked threads as it did.
	Kind, State string
	Locked      bool
	Tags        []string
	// Created is the post's creation time.
	Created time.Time
	// Text is what is searched: a thread's title and the text of its
	// body, a reply's text (plainText of body_html).
	Text string
}

// fields returns the document bleve indexes for p.
func (p *Post) fields() map[string]any {
	doc := map[string]any{
		fieldThread: p.Thread, fieldTheme: p.Theme, fieldAuthor: p.Author,
		fieldCreated: p.Created, fieldText: p.Text,
	}
	if p.Kind != "" {
		doc[fieldKind] = p.Kind
	}
	if p.Organization != "" {
		doc[fieldOrg] = p.Organization
	}
	if p.Country != "" {
		doc[fieldCountry] = p.Country
	}
	if p.State != "" {
		doc[fieldState] = p.State
		if p.Locked {
			doc[fieldState] = []string{p.State, "THREAD_STATE_LOCKED"}
		}
	}
	if len(p.Tags) > 0 {
		doc[fieldTags] = p.Tags
	}
	sc := scriptsOf(p.Text)
	doc["t_std"] = p.Text
	if sc.latin || (!sc.cjk && !sc.arabic) {
		doc[fieldPairs] = p.Text
	}
	if sc.latin {
		// The stemmed field of the post's language, or of all three when
		// its words do not say which: each term's posting lists then hold
		// a third of the Latin posts, not all of them, and a query that
		// matches many posts walks a third as much.
		switch latinLanguage(p.Text) {
		case "en":
			doc["t_en"] = p.Text
		case "fr":
			doc["t_fr"] = p.Text
		case "es":
			doc["t_es"] = p.Text
		default:
			doc["t_en"], doc["t_fr"], doc["t_es"] = p.Text, p.Text, p.Text
		}
	}
	if sc.cjk {
		doc["t_cjk"] = p.Text
	}
	if sc.arabic {
		doc["t_ar"] = p.Text
	}
	return doc
}

// Index is the search index. Its methods are safe for concurrent use.
type Index struct {
	dir    string
	mu     sync.RWMutex // Reset replaces idx
	idx    bleve.Index
	closed bool
	// latestNanos is the creation time (unix ns) of the newest post
	// indexed, 0 until read (latest): Apply raises it.
	latestNanos atomic.Int64
}

// Open opens the index in dir, creating it if dir does not exist. An index
// of another mapping version is removed and created anew, empty: its
// cursor is then 0, and the reader rebuilds it from the store.
func Open(dir string) (*Index, error) {
	idx, err := bleve.Open(dir)
	switch {
	case errors.Is(err, bleve.ErrorIndexPathDoesNotExist):
		return create(dir)
	case errors.Is(err, bleve.ErrorIndexMetaMissing):
		// An empty directory, or one whose creation a crash cut short:
		// nothing to keep.
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("search: removing an index without metadata: %w", err)
		}
		return create(dir)
	case err != nil:
		return nil, fmt.Errorf("search: opening the index in %s: %w", dir, err)
	}
	v, err := idx.GetInternal(internalVersion)
	if err != nil {
		idx.Close()
		return nil, fmt.Errorf("search: reading the index's version: %w", err)
	}
	if string(v) != mappingVersion {
		idx.Close()
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("search: removing an index of mapping version %q: %w", v, err)
		}
		return create(dir)
	}
	return &Index{dir: dir, idx: idx}, nil
}

func create(dir string) (*Index, error) {
	idx, err := bleve.New(dir, newMapping())
	if err != nil {
		return nil, fmt.Errorf("search: creating the index in %s: %w", dir, err)
	}
	if err := idx.SetInternal(internalVersion, []byte(mappingVersion)); err != nil {
		idx.Close()
		return nil, fmt.Errorf("search: writing the index's version: %w", err)
	}
	return &Index{dir: dir, idx: idx}, nil
}

// Close closes the index. Closing it again does nothing.
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return nil
	}
	x.closed = true
	return x.idx.Close()
}

// Reset empties the index: its cursor is 0 again.
func (x *Index) Reset() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.idx.Close(); err != nil {
		return fmt.Errorf("search: closing the index to empty it: %w", err)
	}
	if err := os.RemoveAll(x.dir); err != nil {
		return fmt.Errorf("search: emptying the index: %w", err)
	}
	n, err := create(x.dir)
	if err != nil {
		return err
	}
	x.idx = n.idx
	return nil
}

// Cursor returns the last revision of the event log the index applied (0
// for none).
func (x *Index) Cursor() (uint64, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	v, err := x.idx.GetInternal(internalCursor)
	if err != nil || len(v) != 8 {
		return 0, err
	}
	return binary.BigEndian.Uint64(v), nil
}

// built reports whether a rebuild of the index from the store has
// finished (markBuilt). Indexer.CatchUp also takes an index whose cursor
// has moved as built: one built before the mark existed.
func (x *Index) built() (bool, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	v, err := x.idx.GetInternal(internalBuilt)
	return len(v) > 0, err
}

// markBuilt records that a rebuild has finished.
func (x *Index) markBuilt() error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.idx.SetInternal(internalBuilt, []byte{1})
}

// Change is one change to the index: a post to index (anew, or in place of
// its earlier version), or, with Post nil, the removal of the post named.
type Change struct {
	Name string
	Post *Post
}

// Apply makes changes and records through as the last revision applied,
// in one batch: after a crash the index holds both or neither.
func (x *Index) Apply(changes []Change, through uint64) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	b := x.idx.NewBatch()
	for _, c := range changes {
		if c.Post == nil {
			b.Delete(c.Name)
			continue
		}
		if err := b.Index(c.Name, c.Post.fields()); err != nil {
			return fmt.Errorf("search: indexing %s: %w", c.Name, err)
		}
	}
	b.SetInternal(internalCursor, binary.BigEndian.AppendUint64(nil, through))
	var newest int64
	for _, c := range changes {
		if c.Post != nil {
			newest = max(newest, c.Post.Created.UnixNano())
		}
	}
	if err := x.idx.Batch(b); err != nil {
		return fmt.Errorf("search: applying %d changes through revision %d: %w", len(changes), through, err)
	}
	for {
		cur := x.latestNanos.Load()
		if cur == 0 || newest <= cur || x.latestNanos.CompareAndSwap(cur, newest) {
			break // unknown yet (latest reads it), or not newer
		}
	}
	return nil
}

// postsWith returns the names of the posts whose keyword field is v: a
// thread's posts (its own and its replies'), for the changes that concern
// them all (a thread deleted, restored or moved), or an author's.
func (x *Index) postsWith(field, v string) ([]string, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	q := keywordQuery(field, v)
	var names []string
	for from := 0; ; {
		req := bleve.NewSearchRequestOptions(q, 1000, from, false)
		res, err := x.idx.Search(req)
		if err != nil {
			return nil, fmt.Errorf("search: listing the posts whose %s is %s: %w", field, v, err)
		}
		for _, h := range res.Hits {
			names = append(names, h.ID)
		}
		from += len(res.Hits)
		if len(res.Hits) == 0 || uint64(from) >= res.Total {
			return names, nil
		}
	}
}

// Filter narrows a search: every condition must hold.
type Filter struct {
	// Conds compare the index's keyword fields: FieldTheme, FieldAuthor,
	// FieldOrganization, FieldCountry, FieldKind, FieldState, FieldTag.
	Conds []Cond
	// After and Before bound the creation time (zero: unbounded); the
	// Inclusive flags let the bound itself match.
	After, Before                   time.Time
	AfterInclusive, BeforeInclusive bool
}

// Cond is one comparison of a Filter: the field is (or, with Not, is not)
// Value.
type Cond struct {
	Field, Value string
	Not          bool
}

// The fields a Cond compares.
const (
	FieldTheme        = fieldTheme
	FieldAuthor       = fieldAuthor
	FieldOrganization = fieldOrg
	FieldCountry      = fieldCountry
	FieldKind         = fieldKind
	FieldState        = fieldState
	FieldTag          = fieldTags
)

// Request is one search.
type Request struct {
	// Query is what to find.
	Query *Query
	// Themes are the themes the reader may see: hits come from these
	// only, and the total counts no other.
	Themes []string
	Filter Filter
	// Newest orders the hits by creation time, newest first, instead of
	// by relevance.
	Newest bool
	// From is how many hits to skip; Size how many to return.
	From, Size int
}

// Hit is one post found.
type Hit struct {
	// Name is the post's resource name.
	Name string
	// Score is its relevance.
	Score float64
	// Snippet is an extract of its text around what matched, as HTML: the
	// text escaped, the matches in <mark>. It carries no markup of the
	// post's.
	Snippet string
}

// Result is what Search returns.
type Result struct {
	Hits []Hit
	// Total is how many posts match, among those the reader may see.
	Total uint64
}

// Search runs req.
func (x *Index) Search(req Request) (Result, error) {
	if len(req.Themes) == 0 {
		return Result{}, nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	hidden, err := x.hiddenThemes(req.Themes)
	if err != nil {
		return Result{}, err
	}
	m := x.idx.Mapping()
	q := bleveQuery(m, req, hidden, true)
	var res *bleve.SearchResult
	if req.Newest {
		res, err = x.newest(q, req.From, req.Size)
	} else {
		sr := bleve.NewSearchRequestOptions(q, req.Size, req.From, false)
		// Score alone: ties in the index's own order, so that no match loads its name (bleve's fast path)
		res, err = x.idx.Search(sr)
	}
	if err != nil {
		return Result{}, fmt.Errorf("search: %w", err)
	}
	out := Result{Total: res.Total}
	if len(res.Hits) == 0 {
		return out, nil
	}
	// The snippets: the same query again, over the hits only, with the
	// locations of what matched and the stored text. Asking for locations
	// in the first search would load them for every post that matches
	// (thousands), not for the page.
	ids := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		ids[i] = h.ID
	}
	// Every hit comes back, with the locations of what of the query it
	// holds (phrases as phrases, not pairs: pairs have no locations).
	located := bleve.NewBooleanQuery()
	located.AddMust(bleve.NewDocIDQuery(ids))
	located.AddShould(bleveQuery(m, req, hidden, false))
	sq := bleve.NewSearchRequestOptions(located, len(ids), 0, false)
	sq.Fields = []string{fieldText}
	sq.IncludeLocations = true
	snip, err := x.idx.Search(sq)
	if err != nil {
		return Result{}, fmt.Errorf("search: snippets: %w", err)
	}
	snippets := make(map[string]string, len(snip.Hits))
	for _, h := range snip.Hits {
		text, _ := h.Fields[fieldText].(string)
		snippets[h.ID] = snippet(text, h.Locations)
	}
	for _, h := range res.Hits {
		out.Hits = append(out.Hits, Hit{Name: h.ID, Score: h.Score, Snippet: snippets[h.ID]})
	}
	return out, nil
}

// newestWindows are the spans of creation time, back from the newest post
// in the index, that newest looks in before the whole index.
var newestWindows = []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 365 * 24 * time.Hour}

// newest runs q for the hits from..from+size, newest first. Sorting every
// match by its creation time means reading it for each (bleve's doc
// values): most of a broad query's cost. So it first counts the matches
// (no scoring, no sorting), then sorts only the matches of recent spans,
// wider and wider, until one holds the page; the last span is the whole
// index. x.mu is held.
func (x *Index) newest(q query.Query, from, size int) (*bleve.SearchResult, error) {
	count := bleve.NewSearchRequestOptions(q, 0, 0, false)
	count.Score = bleve.ScoreNone
	counted, err := x.idx.Search(count)
	if err != nil {
		return nil, err
	}
	latest, err := x.latest()
	if err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		wq := q
		if i < len(newestWindows) && !latest.IsZero() {
			inclusive := true
			r := bleve.NewDateRangeInclusiveQuery(latest.Add(-newestWindows[i]), time.Time{}, &inclusive, nil)
			r.SetField(fieldCreated)
			wq = bleve.NewConjunctionQuery(q, r)
		}
		sr := bleve.NewSearchRequestOptions(wq, size, from, false)
		sr.SortBy([]string{"-" + fieldCreated, "_id"})
		sr.Score = bleve.ScoreNone
		res, err := x.idx.Search(sr)
		if err != nil {
			return nil, err
		}
		if len(res.Hits) == size || res.Total == counted.Total || wq == q {
			res.Total = counted.Total
			return res, nil
		}
	}
}

// latest returns the creation time of the newest post in the index (zero
// if none): read once by a search, then kept up by Apply. A post deleted
// since may leave it later than the newest left, which only makes newest
// look in a span with fewer posts first.
func (x *Index) latest() (time.Time, error) {
	if n := x.latestNanos.Load(); n != 0 {
		return time.Unix(0, n).UTC(), nil
	}
	sr := bleve.NewSearchRequestOptions(bleve.NewMatchAllQuery(), 1, 0, false)
	sr.SortBy([]string{"-" + fieldCreated})
	sr.Score = bleve.ScoreNone
	sr.Fields = []string{fieldCreated}
	res, err := x.idx.Search(sr)
	if err != nil || len(res.Hits) == 0 {
		return time.Time{}, err
	}
	s, _ := res.Hits[0].Fields[fieldCreated].(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, nil // not stored as expected: look in the whole index
	}
	x.latestNanos.CompareAndSwap(0, t.UnixNano())
	return t, nil
}

// hiddenThemes returns the themes of the index's posts that are not in
// visible. x.mu is held.
func (x *Index) hiddenThemes(visible []string) ([]string, error) {
	d, err := x.idx.FieldDict(fieldTheme)
	if err != nil {
		return nil, fmt.Errorf("search: listing the themes: %w", err)
	}
	defer d.Close()
	var hidden []string
	for {
		e, err := d.Next()
		if err != nil {
			return nil, fmt.Errorf("search: listing the themes: %w", err)
		}
		if e == nil {
			return hidden, nil
		}
		if !slices.Contains(visible, e.Term) {
			hidden = append(hidden, e.Term)
		}
	}
}

// bleveQuery is req as a bleve query: every clause of the query, the
// filter; excluded clauses must not match, nor posts of the hidden themes
// (the themes of the index's posts that are not in req.Themes). Leaving
// out the few hidden themes costs the search far less than keeping the
// many visible ones, a disjunction that every candidate must advance.
//
// With pairs, a phrase in Latin is looked for among the pairs of words
// (fieldPairs): a phrase of two words as one term, a longer one as the
// conjunction of its pairs and the phrase itself (the pairs narrow the
// posts, the phrase checks their order); without, as a phrase query, whose
// matches have locations.
func bleveQuery(m mapping.IndexMapping, req Request, hidden []string, pairs bool) query.Query {
	var must, mustNot []query.Query
	for _, c := range req.Query.Clauses {
		var any []query.Query
		for _, t := range c.Any {
			any = append(any, termQuery(m, t, pairs))
		}
		cq := anyOf(any)
		if c.Exclude {
			mustNot = append(mustNot, cq)
		} else {
			must = append(must, cq)
		}
	}
	for _, th := range hidden {
		mustNot = append(mustNot, keywordQuery(fieldTheme, th))
	}
	f := req.Filter
	for _, c := range f.Conds {
		if c.Not {
			mustNot = append(mustNot, keywordQuery(c.Field, c.Value))
		} else {
			must = append(must, keywordQuery(c.Field, c.Value))
		}
	}
	if !f.After.IsZero() || !f.Before.IsZero() {
		r := bleve.NewDateRangeInclusiveQuery(f.After, f.Before, &f.AfterInclusive, &f.BeforeInclusive)
		r.SetField(fieldCreated)
		must = append(must, r)
	}
	b := bleve.NewBooleanQuery()
	if len(must) == 1 {
		// Not a conjunction of one, another searcher for every match to
		// pass through.
		b.Must = must[0]
	} else {
		b.AddMust(must...)
	}
	if len(mustNot) > 0 {
		b.AddMustNot(mustNot...)
	}
	return b
}

// termQuery matches t in the text fields of its scripts, each analysing
// t its own way: every token it gives must be in the post (a word), or in
// that order (a phrase). A Latin word is looked for with the English,
// French and Spanish analysers (stemmed), a CJK one in bigrams, an Arabic
// one normalised, any other with the standard analyser; a phrase in Latin
// with the standard one (the words as written, in that order). Asking
// only the fields that can match keeps a query's cost down: each field is
// a posting list to walk.
//
// A word is analysed here, with the field's analyser from m, rather than
// left to a bleve match query: a word of one token is then a bare term
// query, not a conjunction of one inside a disjunction inside a
// conjunction, each layer a searcher that every match passes through
// (half the cost of a broad query).
func termQuery(m mapping.IndexMapping, t Term, pairs bool) query.Query {
	sc := scriptsOf(t.Text)
	var fields []string
	if sc.latin {
		if t.Phrase {
			fields = append(fields, "t_std")
		} else {
			fields = append(fields, "t_en", "t_fr", "t_es")
		}
	}
	if sc.cjk {
		fields = append(fields, "t_cjk")
	}
	if sc.arabic {
		fields = append(fields, "t_ar")
	}
	if !sc.latin && !sc.cjk && !sc.arabic {
		fields = append(fields, "t_std")
	}
	var any []query.Query
	for _, f := range fields {
		if t.Phrase {
			p := bleve.NewMatchPhraseQuery(t.Text)
			p.SetField(f)
			if pairs && f == "t_std" {
				any = append(any, pairQuery(m, t.Text, p))
				continue
			}
			any = append(any, p)
			continue
		}
		an := m.AnalyzerNamed(m.AnalyzerNameForPath(f))
		if an == nil { // not expected: the mapping names every field's analyser
			mq := bleve.NewMatchQuery(t.Text)
			mq.SetField(f)
			mq.SetOperator(query.MatchQueryOperatorAnd)
			any = append(any, mq)
			continue
		}
		all := termQueries(an, t.Text, f)
		switch len(all) {
		case 0: // only stop words in this language: nothing to find here
		case 1:
			any = append(any, all[0])
		default:
			any = append(any, bleve.NewConjunctionQuery(all...))
		}
	}
	return anyOf(any)
}

// pairQuery is the phrase text as its pairs of words in fieldPairs: one
// pair alone (adjacent words, in order, as the phrase wants), more than one
// with phrase, which checks their order; phrase alone when text is one
// word.
func pairQuery(m mapping.IndexMapping, text string, phrase query.Query) query.Query {
	an := m.AnalyzerNamed(pairAnalyzer)
	if an == nil {
		return phrase
	}
	all := termQueries(an, text, fieldPairs)
	switch len(all) {
	case 0:
		return phrase
	case 1:
		return all[0]
	}
	return bleve.NewConjunctionQuery(append(all, phrase)...)
}

// termQueries returns a term query in field for each distinct token an
// makes of text, in order.
func termQueries(an analysis.Analyzer, text, field string) []query.Query {
	var all []query.Query
	seen := map[string]bool{}
	for _, tok := range an.Analyze([]byte(text)) {
		if term := string(tok.Term); !seen[term] {
			seen[term] = true
			tq := bleve.NewTermQuery(term)
			tq.SetField(field)
			all = append(all, tq)
		}
	}
	return all
}

// anyOf matches what any of qs matches: the query itself when there is
// one, nothing when there is none.
func anyOf(qs []query.Query) query.Query {
	switch len(qs) {
	case 0:
		return bleve.NewMatchNoneQuery()
	case 1:
		return qs[0]
	}
	return bleve.NewDisjunctionQuery(qs...)
}

func keywordQuery(field, v string) query.Query {
	q := bleve.NewTermQuery(v)
	q.SetField(field)
	return q
}

// snippetRunes is about how long a snippet is, in characters.
const snippetRunes = 160

// snippet returns an extract of text around its first match (locs, by
// byte offset), escaped, with each match in <mark>; the start of text if
// nothing is located.
func snippet(text string, locs search.FieldTermLocationMap) string {
	type span struct{ start, end int }
	var spans []span
	for field, terms := range locs {
		if !strings.HasPrefix(field, "t_") {
			continue // a filter's keyword field: not in the text
		}
		for _, ls := range terms {
			for _, l := range ls {
				s, e := int(l.Start), int(l.End)
				if s < e && e <= len(text) && utf8.RuneStart(text[s]) && (e == len(text) || utf8.RuneStart(text[e])) {
					spans = append(spans, span{s, e})
				}
			}
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	// Merge overlapping spans (each analyser locates its own tokens).
	merged := spans[:0]
	for _, s := range spans {
		if n := len(merged); n > 0 && s.start <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, s.end)
			continue
		}
		merged = append(merged, s)
	}
	start := 0
	if len(merged) > 0 {
		start = back(text, merged[0].start, snippetRunes/4)
	}
	end := forward(text, start, snippetRunes)
	var b strings.Builder
	if start > 0 {
		b.WriteString("…")
	}
	at := start
	for _, s := range merged {
		if s.start < at || s.end > end {
			continue
		}
		b.WriteString(html.EscapeString(text[at:s.start]))
		b.WriteString("<mark>")
		b.WriteString(html.EscapeString(text[s.start:s.end]))
		b.WriteString("</mark>")
		at = s.end
	}
	b.WriteString(html.EscapeString(text[at:end]))
	if end < len(text) {
		b.WriteString("…")
	}
	return b.String()
}

// back returns the offset n runes before i in s (or 0), moved forward to
// the start of a word when one is near.
func back(s string, i, n int) int {
	for ; n > 0 && i > 0; n-- {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	if j := strings.IndexByte(s[i:], ' '); i > 0 && j >= 0 && j < 16 {
		i += j + 1
	}
	return i
}

// forward returns the offset n runes after i in s (or len(s)).
func forward(s string, i, n int) int {
	for ; n > 0 && i < len(s); n-- {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i
}
