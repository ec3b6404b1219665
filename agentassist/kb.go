package agentassist

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
	"gopkg.in/yaml.v3"

	"github.com/earshot/earshot/insights"
)

// Article is one knowledge-base article.
type Article struct {
	ID       string   // file name without ".md"
	Title    string   // from front matter "title", else the first "# " heading
	Keywords []string // from front matter "keywords": words callers use for the topic
	Summary  string   // front matter "summary", else the body's first paragraph, shortened
	Body     string   // Markdown without front matter and title heading
}

// Suggestion is one search hit.
type Suggestion struct {
	Article string  // article id
	Title   string  // article title
	Score   float64 // bleve relevance score; higher is better, not bounded
}

// KB is an in-memory full-text index over Markdown articles. It is
// immutable after OpenKB and safe for concurrent use by any number of
// calls.
type KB struct {
	index    bleve.Index
	analyzer analysis.Analyzer
	vocab    map[string]bool            // every analyzed term in any article
	terms    map[string]map[string]bool // article id -> its analyzed terms
	articles map[string]Article
	ids      []string
}

// maxArticleBytes bounds one article: they are meant to be read during a
// call, and the bound keeps a stray large file from bloating the index.
const maxArticleBytes = 64 << 10

// OpenKBDir opens the knowledge base in directory dir (see OpenKB).
func OpenKBDir(dir string) (*KB, error) {
	return OpenKB(os.DirFS(dir))
}

// OpenKB reads every *.md file at the top of fsys, one article per file
// (the id is the file name without ".md"), and builds an in-memory index
// with bleve's English analyzer (stop words, possessives, Porter-style
// stemming). Titles and keywords are indexed as separate fields so a
// query that names an article's topic outranks one that only shares body
// words. Errors wrap ErrKB; a directory without articles is an error.
func OpenKB(fsys fs.FS) (*KB, error) {
	names, err := fs.Glob(fsys, "*.md")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKB, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no *.md articles", ErrKB)
	}
	sort.Strings(names)
	idx, err := bleve.NewMemOnly(kbMapping())
	if err != nil {
		return nil, fmt.Errorf("%w: new index: %w", ErrKB, err)
	}
	k := &KB{index: idx, articles: make(map[string]Article, len(names)), vocab: map[string]bool{}, terms: map[string]map[string]bool{}}
	k.analyzer = idx.Mapping().AnalyzerNamed(en.AnalyzerName)
	if k.analyzer == nil {
		return nil, fmt.Errorf("%w: no %s analyzer", ErrKB, en.AnalyzerName)
	}
	batch := idx.NewBatch()
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKB, err)
		}
		a, err := ParseArticle(strings.TrimSuffix(path.Base(name), ".md"), data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		k.articles[a.ID] = a
		k.ids = append(k.ids, a.ID)
		doc := map[string]any{"title": a.Title, "keywords": strings.Join(a.Keywords, ". "), "body": a.Body}
		own := map[string]bool{}
		for _, text := range []string{a.Title, doc["keywords"].(string), a.Body} {
			for _, tok := range k.analyzer.Analyze([]byte(text)) {
				k.vocab[string(tok.Term)] = true
				own[string(tok.Term)] = true
			}
		}
		k.terms[a.ID] = own
		if err := batch.Index(a.ID, doc); err != nil {
			return nil, fmt.Errorf("%w: index %s: %w", ErrKB, name, err)
		}
	}
	if err := idx.Batch(batch); err != nil {
		return nil, fmt.Errorf("%w: index: %w", ErrKB, err)
	}
	return k, nil
}

func kbMapping() mapping.IndexMapping {
	m := bleve.NewIndexMapping()
	m.DefaultAnalyzer = en.AnalyzerName
	doc := bleve.NewDocumentMapping()
	for _, f := range []string{"title", "keywords", "body"} {
		fm := bleve.NewTextFieldMapping()
		fm.Analyzer = en.AnalyzerName
		fm.Store = false
		fm.IncludeInAll = false
		doc.AddFieldMappingsAt(f, fm)
	}
	m.DefaultMapping = doc
	return m
}

// ParseArticle parses one Markdown article: optional YAML front matter
// between "---" lines (keys title, keywords, summary; others are refused),
// then the body. Without a front-matter title the first line must be a
// "# Title" heading. Errors wrap ErrKB.
func ParseArticle(id string, data []byte) (Article, error) {
	a := Article{ID: id}
	if !idPattern.MatchString(id) {
		return a, fmt.Errorf("%w: %q is not a valid article id", ErrKB, id)
	}
	if len(data) > maxArticleBytes {
		return a, fmt.Errorf("%w: article %s is larger than %d bytes", ErrKB, id, maxArticleBytes)
	}
	if !utf8.Valid(data) {
		return a, fmt.Errorf("%w: article %s is not UTF-8", ErrKB, id)
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	if rest, ok := strings.CutPrefix(text, "---\n"); ok {
		fm, body, found := strings.Cut(rest, "\n---\n")
		if !found {
			return a, fmt.Errorf("%w: article %s: front matter has no closing ---", ErrKB, id)
		}
		var meta struct {
			Title    string   `yaml:"title"`
			Keywords []string `yaml:"keywords"`
			Summary  string   `yaml:"summary"`
		}
		dec := yaml.NewDecoder(bytes.NewReader([]byte(fm)))
		dec.KnownFields(true)
		if err := dec.Decode(&meta); err != nil {
			return a, fmt.Errorf("%w: article %s front matter: %w", ErrKB, id, err)
		}
		a.Title, a.Keywords, a.Summary = strings.TrimSpace(meta.Title), meta.Keywords, strings.TrimSpace(meta.Summary)
		text = body
	}
	text = strings.TrimLeft(text, "\n")
	if first, rest, _ := strings.Cut(text, "\n"); strings.HasPrefix(first, "# ") {
		if a.Title == "" {
			a.Title = strings.TrimSpace(first[2:])
		}
		text = rest
	}
	if a.Title == "" {
		return a, fmt.Errorf("%w: article %s has no title (front matter title or a first-line # heading)", ErrKB, id)
	}
	a.Body = strings.TrimSpace(text)
	if a.Summary == "" {
		para, _, _ := strings.Cut(a.Body, "\n\n")
		a.Summary = shorten(strings.Join(strings.Fields(para), " "), 200)
	}
	return a, nil
}

// shorten cuts s to at most n bytes at a word boundary, adding "…".
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := strings.LastIndexByte(s[:n], ' ')
	if cut <= 0 {
		cut = n
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
	}
	return s[:cut] + "…"
}

// Article returns the article with the given id.
func (k *KB) Article(id string) (Article, bool) {
	a, ok := k.articles[id]
	return a, ok
}

// IDs returns every article id, sorted.
func (k *KB) IDs() []string { return append([]string(nil), k.ids...) }

// Field boosts: a query word in an article's keywords (the words callers
// actually use for the topic) or title says more than one in its body.
const (
	boostKeywords = 3
	boostTitle    = 2
	boostBody     = 1
)

var kbFields = []struct {
	name  string
	boost float64
}{{"keywords", boostKeywords}, {"title", boostTitle}, {"body", boostBody}}

// Suggest returns up to n articles matching query, best first, with their
// scores. An empty query (after analysis) returns no suggestions and no
// error. It is safe for concurrent use.
func (k *KB) Suggest(q string, n int) ([]Suggestion, error) {
	if n <= 0 || strings.TrimSpace(q) == "" {
		return nil, nil
	}
	// Only terms that occur in some article take part. Words no article
	// has ("yesterday", a name) would otherwise still count in the query
	// norm and shrink every score, so the same topic would score lower the
	// more the caller said around it, and no fixed threshold would work.
	var parts []query.Query
	seen := map[string]bool{}
	for _, tok := range k.analyzer.Analyze([]byte(q)) {
		term := string(tok.Term)
		if !k.vocab[term] || seen[term] {
			continue
		}
		seen[term] = true
		for _, f := range kbFields {
			tq := bleve.NewTermQuery(term)
			tq.SetField(f.name)
			tq.SetBoost(f.boost)
			parts = append(parts, tq)
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	req := bleve.NewSearchRequestOptions(bleve.NewDisjunctionQuery(parts...), n, 0, false)
	res, err := k.index.Search(req)
	if err != nil {
		return nil, fmt.Errorf("%w: search: %w", ErrKB, err)
	}
	out := make([]Suggestion, 0, len(res.Hits))
	for _, h := range res.Hits {
		a := k.articles[h.ID]
		out = append(out, Suggestion{Article: h.ID, Title: a.Title, Score: h.Score})
	}
	return out, nil
}

// shared counts the distinct analyzed terms of text that are in terms.
func (k *KB) shared(text string, terms map[string]bool) int {
	n := 0
	seen := map[string]bool{}
	for _, tok := range k.analyzer.Analyze([]byte(text)) {
		t := string(tok.Term)
		if terms[t] && !seen[t] {
			seen[t] = true
			n++
		}
	}
	return n
}

// DefaultMinScore is the score a suggestion needs to become a hint. It was
// calibrated on the project's articles (see docs/playbook.md): caller
// turns about an article's topic score well above it, small talk and
// off-topic turns below.
const DefaultMinScore = 0.2

// SuggesterConfig configures a per-call Suggester. The zero value is
// usable.
type SuggesterConfig struct {
	// Utterances is how many of the caller's last utterances form the
	// query. Zero means 3.
	Utterances int
	// Window drops utterances that ended this long before the newest one,
	// so an old topic does not linger in the query. Zero means 60 s.
	Window time.Duration
	// MinScore overrides DefaultMinScore when positive.
	MinScore float64
}

// Suggester turns one call's caller utterances into knowledge-base hints,
// never suggesting the same article twice in the call. It is not safe for
// concurrent use; each call owns one.
type Suggester struct {
	kb     *KB
	cfg    SuggesterConfig
	recent []insights.Utterance
	shown  map[string]bool
}

// NewSuggester starts a per-call Suggester over k.
func (k *KB) NewSuggester(cfg SuggesterConfig) *Suggester {
	if cfg.Utterances <= 0 {
		cfg.Utterances = 3
	}
	if cfg.Window <= 0 {
		cfg.Window = 60 * time.Second
	}
	if cfg.MinScore <= 0 {
		cfg.MinScore = DefaultMinScore
	}
	return &Suggester{kb: k, cfg: cfg, shown: map[string]bool{}}
}

// MarkShown records that an article was already shown in this call (for
// example by a playbook hint with a kb field), so it is not suggested again.
func (s *Suggester) MarkShown(article string) { s.shown[article] = true }

// OnUtterance adds a final utterance (redacted text) and returns at most one
// hint: the best article above the score threshold that was not shown in
// this call yet, stamped with u.End. Utterances of the other speaker are
// ignored. The search takes well under a millisecond on a small KB.
func (s *Suggester) OnUtterance(u insights.Utterance) ([]Action, error) {
	if u.Speaker != insights.Caller || strings.TrimSpace(u.Text) == "" { // the caller's words say what the call is about
		return nil, nil
	}
	s.recent = append(s.recent, u)
	if len(s.recent) > s.cfg.Utterances {
		s.recent = s.recent[len(s.recent)-s.cfg.Utterances:]
	}
	for len(s.recent) > 1 && u.End-s.recent[0].End > s.cfg.Window {
		s.recent = s.recent[1:]
	}
	var q strings.Builder
	for _, r := range s.recent {
		q.WriteString(withoutPlaceholders(r.Text))
		q.WriteString(". ")
	}
	hits, err := s.kb.Suggest(q.String(), 1)
	if err != nil || len(hits) == 0 {
		return nil, err
	}
	// Only the best article is considered: when it was already shown the
	// caller is still on that topic, and the runner-up is mostly noise.
	h := hits[0]
	if h.Score < s.cfg.MinScore || s.shown[h.Article] {
		return nil, nil
	}
	// Two more guards against a suggestion nobody asked for: the newest
	// utterance must itself share a word with the article (a "thank you"
	// after an on-topic turn does not re-trigger the old context), and the
	// query must share at least two distinct words with it (one keyword
	// such as "twice" or "router" in passing is not a topic).
	own := s.kb.terms[h.Article]
	if s.kb.shared(withoutPlaceholders(u.Text), own) == 0 || s.kb.shared(q.String(), own) < 2 {
		return nil, nil
	}
	s.shown[h.Article] = true
	a := s.kb.articles[h.Article]
	return []Action{{
		Kind:     KindHint,
		ID:       "kb:" + a.ID,
		Title:    a.Title,
		Text:     a.Summary,
		Priority: 3,
		KB:       a.ID,
		At:       u.End,
		Rule:     "kb",
	}}, nil
}

// withoutPlaceholders drops redaction placeholders ("[card number]") from a
// query: they are the redactor's words, not the caller's, and would pull
// every call with misheard digits towards the card-payment article.
func withoutPlaceholders(text string) string {
	var b strings.Builder
	depth := 0
	for _, r := range text {
		switch {
		case r == '[':
			depth++
		case r == ']' && depth > 0:
			depth--
			b.WriteByte(' ')
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}
